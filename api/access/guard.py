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
from dataclasses import dataclass, replace
from typing import Any

import structlog

from api.access.introspector import Introspector
from api.access.issuers import IssuerKeys
from api.data.port import FhirData
from api.errors import Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized
from api.security.access import AccessPlan, plan_access
from api.security.claims import MAX_TOKEN_BYTES
from api.security.idp_metadata import IssuerMetadata
from api.security.introspection import (
    INTROSPECTED,
    IntrospectionInvalid,
    believed_until,
    introspected_principal,
    introspecting_issuer,
    opaque_token_shape,
)
from api.security.principal import Principal, TokenFacts
from api.security.ratelimit import Bucket, retry_after_s, take
from api.security.scopes import needed_scope
from api.security.tokens import TokenPolicy, TokenRejected, UnknownKey, verify_access_token
from evidence.core import ReasonCode

log = structlog.get_logger("fhir_evidence.guard")
TOKEN_CACHE_SIZE = 10_000
CARE_TEAM_TTL_S = 5.0  # how long another replica's CareTeam write may go unseen
Clock = Callable[[], float]


def _lenient_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _token_facts(header: str, token_type: str) -> TokenFacts:
    """alg, kid and jti of a refused token, read leniently for the evidence only (a token
    refused for its shape still leaves a trace); never trusted for anything else."""
    segments = header.partition(" ")[2].strip().split(".")
    if len(segments) != 3 or len(segments[0]) + len(segments[1]) > MAX_TOKEN_BYTES:
        return TokenFacts(token_type=token_type)
    head, claims = _lenient_segment(segments[0]), _lenient_segment(segments[1])
    alg, kid, jti = (_short(head.get("alg")), _short(head.get("kid")), _short(claims.get("jti")))
    return TokenFacts(alg, kid, jti, token_type)


def _claimed_issuer(token: str) -> str | None:
    """The unverified `iss` of a JWT-shaped token ("" when it names none); None when the
    token is not JWT-shaped (its header is no JSON object): an opaque token."""
    segments = token.split(".")
    if len(segments) != 3 or len(token) > MAX_TOKEN_BYTES or not _lenient_segment(segments[0]):
        return None
    issuer = _lenient_segment(segments[1]).get("iss")
    return issuer if isinstance(issuer, str) else ""


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    until: float  # believed until then
    generation: int | None  # the issuer's key set it was verified with (None: introspected)


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
        introspector: Introspector | None = None,
        introspection_cache_s: float = 60.0,
    ) -> None:
        self._keys = keys
        self._introspector = introspector
        self._introspection_cache_s = introspection_cache_s
        self._policy = policy
        self._repository = repository
        self._clock = clock
        self._tokens: OrderedDict[bytes, _Cached] = OrderedDict()
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
            kind = self._token_type(authorization.partition(" ")[2].strip())
            raise Unauthorized(exc.reason, _token_facts(authorization, kind)) from None

    def issuer_metadata(self, issuer: str) -> IssuerMetadata | None:
        """What discovery told about a trusted issuer (None: not discovered)."""
        return self._keys.metadata(issuer)

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
        self._keys.maintain()
        now = self._clock()
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        cached = self._tokens.get(digest)
        if cached is not None and self._still_believed(cached, now):
            return cached.principal
        entry = self._check(token, now)
        self._remember(digest, entry)
        return entry.principal

    def _still_believed(self, cached: _Cached, now: float) -> bool:
        """Within its time, and (for a JWT) its issuer's key set unchanged since it was
        verified: a key removed from the JWKS takes its cached tokens with it."""
        if cached.until < now:
            return False
        return cached.generation is None or cached.generation == self._keys.generation(
            cached.principal.issuer
        )

    def _introspecting_issuer(self, token: str) -> str:
        if self._introspector is None:
            return ""
        return introspecting_issuer(token, _claimed_issuer(token), self._introspector.route)

    def _token_type(self, token: str) -> str:
        if self._introspecting_issuer(token):
            return INTROSPECTED
        return "jwt" if _claimed_issuer(token) is not None else ""

    def _check(self, token: str, now: float) -> _Cached:
        issuer = self._introspecting_issuer(token)
        if issuer:
            principal = self._introspect(token, issuer, int(now))
            until = believed_until(principal.expires_at, now, self._introspection_cache_s)
            return _Cached(self._with_idp(principal), until, None)
        principal = self._verify(token, int(now))
        until = principal.expires_at + self._policy.leeway_s
        generation = self._keys.generation(principal.issuer)
        return _Cached(self._with_idp(principal), until, generation)

    def _with_idp(self, principal: Principal) -> Principal:
        config = self._keys.config(principal.issuer)
        if config is None or not (config.idp_product or config.idp_version):
            return principal
        return replace(
            principal, idp_product=config.idp_product or "", idp_version=config.idp_version or ""
        )

    def _introspect(self, token: str, issuer: str, now: int) -> Principal:
        if self._introspector is None:  # only reached with one
            raise ServiceUnavailable(reason=ReasonCode.INTROSPECTION_FAILED)
        if _claimed_issuer(token) is None:
            opaque_token_shape(token)
        try:
            answer = self._introspector.answer(token, issuer)
        except IntrospectionInvalid as exc:
            log.warning("introspection failed", issuer=issuer, error=str(exc))
            raise ServiceUnavailable(
                "The identity provider cannot be reached.", ReasonCode.INTROSPECTION_FAILED
            ) from None
        trusted = self._keys.trusted.get(issuer)
        audience = trusted.audience if trusted is not None else ""
        try:
            return introspected_principal(answer, issuer, audience, now, self._policy)
        except IntrospectionInvalid as exc:
            log.warning("introspection failed", issuer=issuer, error=str(exc))
            raise ServiceUnavailable(
                "The identity provider cannot be reached.", ReasonCode.INTROSPECTION_FAILED
            ) from None

    def _verify(self, token: str, now: int) -> Principal:
        if not self._keys.any_keys() and not self._keys.refresh_all():
            raise ServiceUnavailable(
                "No token verification keys are available.", ReasonCode.ISSUER_UNAVAILABLE
            )
        try:
            return verify_access_token(token, self._keys.trusted, now, self._policy)
        except UnknownKey as exc:
            if not self._keys.refresh(exc.issuer):
                if self._keys.unavailable(exc.issuer):
                    raise ServiceUnavailable(
                        "The identity provider cannot be reached.", ReasonCode.ISSUER_UNAVAILABLE
                    ) from None
                raise
            return verify_access_token(token, self._keys.trusted, now, self._policy)

    def _remember(self, digest: bytes, entry: _Cached) -> None:
        self._tokens[digest] = entry
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
