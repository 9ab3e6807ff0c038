"""The guard in front of every FHIR and auditor route: token → principal → access plan.

Adapter around the pure `api.security` functions: it keeps the verified-token cache, the
issuer keys (refresh on unknown kid) and a short-lived care-team membership cache, and
records every decision in the request's audit context.
"""

import base64
import functools
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from api.access.issuers import IssuerKeys
from api.data.port import FhirData
from api.errors import Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized
from api.http.request_audit import RequestAudit
from api.security.access import POLICY_VERSION, AccessPlan, plan_access
from api.security.claims import MAX_TOKEN_BYTES
from api.security.principal import Principal
from api.security.ratelimit import Bucket, retry_after_s, take
from api.security.scopes import needed_scope
from api.security.tokens import TokenPolicy, TokenRejected, UnknownKey, verify_access_token
from evidence.core import Decision, ReasonCode

TOKEN_CACHE_SIZE = 10_000
CARE_TEAM_TTL_S = 30.0
Clock = Callable[[], float]


def _lenient_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _token_facts(header: str) -> tuple[str, str, str]:
    """alg, kid and jti of a refused token, read leniently for the evidence only (a token
    refused for its shape still leaves a trace); never trusted for anything else."""
    segments = header.partition(" ")[2].strip().split(".")
    if len(segments) != 3 or len(segments[0]) + len(segments[1]) > MAX_TOKEN_BYTES:
        return "", "", ""
    head, claims = _lenient_segment(segments[0]), _lenient_segment(segments[1])
    values = (head.get("alg"), head.get("kid"), claims.get("jti"))
    return tuple(v[:64] if isinstance(v, str) else "" for v in values)  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _cached_plan(principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
    """plan_access is pure and principals are immutable: the same question, the same plan."""
    return plan_access(principal, resource_type, interaction)


class Guard:
    def __init__(
        self,
        keys: IssuerKeys,
        policy: TokenPolicy,
        repository: FhirData,
        clock: Clock = time.time,
        rate: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self._keys = keys
        self._policy = policy
        self._repository = repository
        self._clock = clock
        self._tokens: OrderedDict[bytes, Principal] = OrderedDict()
        self._care_team: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._rate = rate  # (tokens per second, burst) per principal
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def authenticate(self, request: Request) -> Principal:
        audit: RequestAudit = request.state.audit
        audit.policy_version = POLICY_VERSION
        header = request.headers.get("authorization", "")
        try:
            if "access_token" in request.query_params:
                raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "token in the URL")
            principal = self._principal(header)
        except TokenRejected as exc:
            audit.decide(Decision.DENY, str(exc.reason))
            audit.refused_token = _token_facts(header)
            raise Unauthorized(reason=exc.reason) from None
        audit.principal = principal
        self._throttle(principal)
        return principal

    def _throttle(self, principal: Principal) -> None:
        key = principal.binding
        allowed, bucket = take(self._buckets.get(key), self._clock(), *self._rate)
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        if len(self._buckets) > TOKEN_CACHE_SIZE:
            self._buckets.popitem(last=False)
        if not allowed:
            raise TooManyRequests(retry_after_s(bucket, self._rate[0]))

    def _principal(self, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        if not header:
            raise TokenRejected(ReasonCode.TOKEN_MISSING)
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected(ReasonCode.TOKEN_MALFORMED)
        token = token.strip()
        now = self._clock()
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        cached = self._tokens.get(digest)
        if cached is not None and cached.expires_at + self._policy.leeway_s >= now:
            return cached
        principal = self._verify(token, int(now))
        self._remember(digest, principal)
        return principal

    def _verify(self, token: str, now: int) -> Principal:
        if not self._keys.any_keys() and not self._keys.refresh_all():
            raise ServiceUnavailable("No token verification keys are available.")
        try:
            return verify_access_token(token, self._keys.trusted, now, self._policy)
        except UnknownKey as exc:
            if not self._keys.refresh(exc.issuer):
                raise
            return verify_access_token(token, self._keys.trusted, now, self._policy)

    def _remember(self, digest: bytes, principal: Principal) -> None:
        self._tokens[digest] = principal
        if len(self._tokens) > TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)

    def authorize(
        self, request: Request, principal: Principal, resource_type: str, interaction: str
    ) -> AccessPlan:
        audit: RequestAudit = request.state.audit
        plan = _cached_plan(principal, resource_type, interaction)
        audit.scopes_used = list(plan.scopes_used)
        if not plan.granted:
            audit.decide(Decision.DENY, *plan.reasons)
            raise Forbidden(required_scope=needed_scope(resource_type, interaction))
        audit.decide(Decision.ALLOW, *plan.reasons)
        return plan

    def plan(self, principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
        """The access plan for a secondary read (e.g. an included resource): not recorded
        as the request's decision."""
        return _cached_plan(principal, resource_type, interaction)

    def care_team_member(self, practitioner: str, patient_id: str) -> bool:
        key = (practitioner, patient_id)
        now = self._clock()
        hit = self._care_team.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        member = self._repository.care_team_member(practitioner, patient_id)
        self._care_team[key] = (member, now + CARE_TEAM_TTL_S)
        if len(self._care_team) > TOKEN_CACHE_SIZE:
            self._care_team.popitem(last=False)
        return member
