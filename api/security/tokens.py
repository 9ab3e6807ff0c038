"""Access-token validation (RFC 9068 JWTs), pure given the trusted keys and the time.

The parts are parsed strictly here (api.security.claims), PyJWT's algorithm objects check
the signature over the exact signing input, and every claim check is done against the `now`
passed in, so that each refusal maps to exactly one contract reason code.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from api.security.claims import (
    MAX_TOKEN_BYTES,
    TokenPolicy,
    TokenRejected,
    b64url_bytes,
    check_claims,
    principal_from_claims,
    unverified_parts,
)
from api.security.principal import Principal
from evidence.core import ReasonCode

ALLOWED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
_ALGORITHMS = {name: get_default_algorithms()[name] for name in ALLOWED_ALGORITHMS}
ALLOWED_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})
__all__ = [
    "MAX_TOKEN_BYTES",
    "TokenPolicy",
    "TokenRejected",
    "TrustedKeys",
    "UnknownKey",
    "verify_access_token",
]
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "RS256": (rsa.RSAPublicKey,),
    "PS256": (rsa.RSAPublicKey,),
    "ES256": (ec.EllipticCurvePublicKey,),
    "EdDSA": (ed25519.Ed25519PublicKey,),
}


class UnknownKey(TokenRejected):
    """No key with this `kid`: the caller may refresh the issuer's keys once and retry."""

    def __init__(self, issuer: str) -> None:
        super().__init__(ReasonCode.TOKEN_SIGNATURE_INVALID, "unknown key id")
        self.issuer = issuer


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    issuer: str
    audience: str
    algorithms: frozenset[str]
    keys: Mapping[str, Any]  # kid -> public key object


def verify_access_token(
    token: str, issuers: Mapping[str, TrustedKeys], now: int, policy: TokenPolicy
) -> Principal:
    header, unverified = unverified_parts(token)
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "alg missing")
    _check_type(header)
    trusted = _trusted_issuer(unverified, issuers)
    if alg not in ALLOWED_ALGORITHMS or alg not in trusted.algorithms:
        raise TokenRejected(ReasonCode.TOKEN_ALG_NOT_ALLOWED)
    kid = header.get("kid", "")
    if not isinstance(kid, str):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "kid is not a string")
    key = _select_key(trusted, kid)
    if not isinstance(key, _KEY_TYPES[alg]):
        raise TokenRejected(ReasonCode.TOKEN_ALG_NOT_ALLOWED, "algorithm does not fit the key")
    _verify_signature(token, key, alg)
    claims = unverified
    check_claims(claims, trusted.audience, now, policy)
    return principal_from_claims(claims, alg, kid)


def _check_type(header: dict[str, Any]) -> None:
    """`typ` an access token's; no `crit` (RFC 7515 4.1.11: a recipient that does not
    understand a listed extension must refuse the JWS, and this one understands none)."""
    if "crit" in header:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "critical header extension")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ALLOWED_TYPES):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "unexpected token type")


def _trusted_issuer(claims: dict[str, Any], issuers: Mapping[str, TrustedKeys]) -> TrustedKeys:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer not in issuers:
        raise TokenRejected(ReasonCode.TOKEN_ISSUER_UNTRUSTED)
    return issuers[issuer]


def _select_key(trusted: TrustedKeys, kid: str) -> Any:
    if kid in trusted.keys:
        return trusted.keys[kid]
    if not kid and len(trusted.keys) == 1:
        return next(iter(trusted.keys.values()))
    raise UnknownKey(trusted.issuer)


def _verify_signature(token: str, key: Any, alg: str) -> None:
    """The signature over the exact signing input, by PyJWT's algorithm for `alg` (the parts
    were already parsed strictly, so PyJWT's own decoding is not repeated)."""
    signing_input, _, signature_segment = token.rpartition(".")
    signature = b64url_bytes(signature_segment)
    if not _ALGORITHMS[alg].verify(signing_input.encode("ascii"), key, signature):
        raise TokenRejected(ReasonCode.TOKEN_SIGNATURE_INVALID)
