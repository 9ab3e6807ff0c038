"""The guard in front of every FHIR and auditor route: token → principal → access plan.

Adapter around the pure `api.security` functions: it keeps the verified-token cache, the
issuer keys (refresh on unknown kid), the per-principal rate buckets and a short-lived
care-team membership cache. It records nothing: it returns the principal and the plan (whose
`verdict` is the grant), and its refusals are errors that carry their verdict.
"""

import base64
import functools
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from api.access.issuers import IssuerKeys
from api.data.port import FhirData
from api.errors import Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized
from api.security.access import AccessPlan, plan_access
from api.security.claims import MAX_TOKEN_BYTES
from api.security.principal import Principal, TokenFacts
from api.security.ratelimit import Bucket, retry_after_s, take
from api.security.scopes import needed_scope
from api.security.tokens import TokenPolicy, TokenRejected, UnknownKey, verify_access_token
from evidence.core import ReasonCode

TOKEN_CACHE_SIZE = 10_000
CARE_TEAM_TTL_S = 5.0  # how long another replica's CareTeam write may go unseen
Clock = Callable[[], float]


def _lenient_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _token_facts(header: str) -> TokenFacts:
    """alg, kid and jti of a refused token, read leniently for the evidence only (a token
    refused for its shape still leaves a trace); never trusted for anything else."""
    segments = header.partition(" ")[2].strip().split(".")
    if len(segments) != 3 or len(segments[0]) + len(segments[1]) > MAX_TOKEN_BYTES:
        return TokenFacts()
    head, claims = _lenient_segment(segments[0]), _lenient_segment(segments[1])
    alg, kid, jti = (_short(head.get("alg")), _short(head.get("kid")), _short(claims.get("jti")))
    return TokenFacts(alg, kid, jti)


def _short(value: Any) -> str:
    return value[:64] if isinstance(value, str) else ""


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

    def authenticate(self, authorization: str, token_in_url: bool = False) -> Principal:
        """The principal of the `Authorization` header; Unauthorized (with what the evidence
        keeps of the refused token) otherwise. A token in the URL is always refused."""
        try:
            if token_in_url:
                raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "token in the URL")
            return self._principal(authorization)
        except TokenRejected as exc:
            raise Unauthorized(exc.reason, _token_facts(authorization)) from None

    def throttle(self, principal: Principal) -> None:
        """TooManyRequests when the principal is over its rate."""
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

    def authorize(self, principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
        """The granted plan (its `verdict` is the grant); Forbidden carrying the refusal."""
        plan = _cached_plan(principal, resource_type, interaction)
        if not plan.granted:
            required = needed_scope(resource_type, interaction)
            raise Forbidden(required_scope=required, verdict=plan.verdict)
        return plan

    def plan(self, principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
        """The access plan for a secondary read (e.g. an included resource), granted or not."""
        return _cached_plan(principal, resource_type, interaction)

    def care_teams_changed(self) -> None:
        """A CareTeam was written or deleted here: forget every cached membership."""
        self._care_team.clear()

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
