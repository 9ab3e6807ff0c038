"""OAuth 2.0 Token Introspection (RFC 7662) answers, read strictly (pure), and which tokens
are introspected at all.

An answer that is not a JSON object whose `active` is a JSON boolean is the identity
provider's failure (IntrospectionInvalid: 503, fail closed), never a token's. `active:
false` refuses the token (401 token.inactive). An active answer yields claims that go
through exactly the checks a JWT's claims go through (api.security.claims.check_claims):
audience, time window, lifetime, shapes; an answer about another kind of token (a refresh
or ID token) or naming another issuer is refused.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from api.security.claims import (
    MAX_TOKEN_BYTES,
    TokenPolicy,
    TokenRejected,
    check_claims,
    principal_from_claims,
    strict_json,
)
from api.security.principal import Principal
from evidence.core import FhirEvidenceError, ReasonCode

MAX_ANSWER_BYTES = 64 * 1024
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
INTROSPECTED = "introspected"  # the token type recorded in evidence
# Keycloak's `typ` and RFC 7662's `token_type`, when present, must say "access token".
_ACCESS_TYPES = frozenset(
    {"bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"}
)


class IntrospectionInvalid(FhirEvidenceError):
    """The introspection endpoint's answer is not one (its failure, not the token's)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=str(ReasonCode.INTROSPECTION_FAILED))


@dataclass(frozen=True, slots=True)
class IntrospectionRoute:
    """Which token goes where: the issuer that introspects tokens that are not JWTs (if
    any), and the issuers whose every token is introspected."""

    opaque_issuer: str | None = None
    all_tokens_of: frozenset[str] = frozenset()


def introspecting_issuer(token: str, claimed_issuer: str | None, route: IntrospectionRoute) -> str:
    """The issuer to introspect `token` with, or "" to verify it as a JWT. `claimed_issuer`:
    the unverified `iss` of a JWT-shaped token (None when the token is not JWT-shaped)."""
    if claimed_issuer is not None:
        return claimed_issuer if claimed_issuer in route.all_tokens_of else ""
    return route.opaque_issuer or ""


def opaque_token_shape(token: str) -> None:
    """An opaque token is sent to the identity provider only in RFC 6750's b64token shape
    and at most MAX_TOKEN_BYTES long; anything else is refused here (token.malformed)."""
    if len(token) > MAX_TOKEN_BYTES or not _B64TOKEN.fullmatch(token):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "token shape")


def parse_answer(body: bytes) -> dict[str, Any]:
    """The answer's JSON object, strictly (no duplicate members, no NaN), bounded."""
    if len(body) > MAX_ANSWER_BYTES:
        raise IntrospectionInvalid("introspection answer too large")
    try:
        value = strict_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntrospectionInvalid("introspection answer is not JSON") from exc
    if not isinstance(value, dict):
        raise IntrospectionInvalid("introspection answer is not a JSON object")
    return value


def active_claims(answer: Mapping[str, Any], issuer: str) -> dict[str, Any]:
    """The claims of an active token, its issuer filled in when the answer leaves it out."""
    active = answer.get("active")
    if not isinstance(active, bool):
        raise IntrospectionInvalid("introspection answer without a boolean active")
    if not active:
        raise TokenRejected(ReasonCode.TOKEN_INACTIVE)
    claims = dict(answer)
    del claims["active"]
    named = claims.setdefault("iss", issuer)
    if named != issuer:
        raise TokenRejected(ReasonCode.TOKEN_ISSUER_UNTRUSTED, "introspection names another iss")
    for name in ("typ", "token_type"):
        kind = claims.get(name)
        if kind is not None and (not isinstance(kind, str) or kind.lower() not in _ACCESS_TYPES):
            raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "not an access token")
    return claims


def introspected_principal(
    answer: Mapping[str, Any], issuer: str, audience: str, now: int, policy: TokenPolicy
) -> Principal:
    """The principal of an active answer, after the same claim checks as a JWT's."""
    claims = active_claims(answer, issuer)
    check_claims(claims, audience, now, policy)
    return replace(principal_from_claims(claims, "", ""), token_type=INTROSPECTED)


def believed_until(expires_at: int, now: float, bound_s: float) -> float:
    """An active answer is believed until its `exp`, and at most `bound_s` from now."""
    return min(float(expires_at), now + bound_s)


__all__ = [
    "INTROSPECTED",
    "MAX_ANSWER_BYTES",
    "IntrospectionInvalid",
    "IntrospectionRoute",
    "active_claims",
    "believed_until",
    "introspected_principal",
    "introspecting_issuer",
    "opaque_token_shape",
    "parse_answer",
]
