"""Access-token validation (RFC 9068 JWTs), pure given the trusted keys and the time.

PyJWT checks the signature; every claim check is done here against the `now` passed in,
so that each refusal maps to exactly one contract reason code.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from api.security.principal import Principal
from api.security.scopes import EXPORT_SCOPE, parse_scope_claim
from evidence.core import FhirEvidenceError, ReasonCode

ALLOWED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
ALLOWED_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})
MAX_TOKEN_BYTES = 8192
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "RS256": (rsa.RSAPublicKey,),
    "PS256": (rsa.RSAPublicKey,),
    "ES256": (ec.EllipticCurvePublicKey,),
    "EdDSA": (ed25519.Ed25519PublicKey,),
}


class TokenRejected(FhirEvidenceError):
    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(detail or str(reason), code=str(reason))
        self.reason = reason


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


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    max_lifetime_s: int = 3600
    leeway_s: int = 30


def verify_access_token(
    token: str, issuers: Mapping[str, TrustedKeys], now: int, policy: TokenPolicy
) -> Principal:
    header = _header(token)
    trusted = _trusted_issuer(token, issuers)
    alg = header["alg"]
    if alg not in ALLOWED_ALGORITHMS or alg not in trusted.algorithms:
        raise TokenRejected(ReasonCode.TOKEN_ALG_NOT_ALLOWED)
    kid = str(header.get("kid", ""))
    key = _select_key(trusted, kid)
    if not isinstance(key, _KEY_TYPES[alg]):
        raise TokenRejected(ReasonCode.TOKEN_ALG_NOT_ALLOWED, "algorithm does not fit the key")
    claims = _verified_claims(token, key, alg)
    _check_claims(claims, trusted, now, policy)
    return _principal(claims, alg, kid)


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED) from exc
    if not isinstance(header.get("alg"), str):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED)
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ALLOWED_TYPES):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "unexpected token type")
    return header


def _trusted_issuer(token: str, issuers: Mapping[str, TrustedKeys]) -> TrustedKeys:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED) from exc
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in issuers:
        raise TokenRejected(ReasonCode.TOKEN_ISSUER_UNTRUSTED)
    return issuers[issuer]


def _select_key(trusted: TrustedKeys, kid: str) -> Any:
    if kid in trusted.keys:
        return trusted.keys[kid]
    if not kid and len(trusted.keys) == 1:
        return next(iter(trusted.keys.values()))
    raise UnknownKey(trusted.issuer)


def _verified_claims(token: str, key: Any, alg: str) -> dict[str, Any]:
    options = {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,
        "verify_iss": False,
    }
    try:
        return jwt.decode(token, key=key, algorithms=[alg], options=options)  # type: ignore[arg-type]
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected(ReasonCode.TOKEN_SIGNATURE_INVALID) from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED) from exc


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, f"claim {name} missing or not a number")
    if isinstance(value, float) and not math.isfinite(value):
        # JSON parsing accepts NaN/Infinity; int() of them would raise, not refuse.
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, f"claim {name} not a finite number")
    return int(value)


def _check_claims(
    claims: dict[str, Any], trusted: TrustedKeys, now: int, policy: TokenPolicy
) -> None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenRejected(ReasonCode.TOKEN_MALFORMED, "claim sub missing")
    exp, iat = _int_claim(claims, "exp"), _int_claim(claims, "iat")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or trusted.audience not in audiences:
        raise TokenRejected(ReasonCode.TOKEN_AUDIENCE_MISMATCH)
    if exp + policy.leeway_s < now:
        raise TokenRejected(ReasonCode.TOKEN_EXPIRED)
    nbf = _int_claim(claims, "nbf") if "nbf" in claims else iat
    if max(nbf, iat) - policy.leeway_s > now:
        raise TokenRejected(ReasonCode.TOKEN_NOT_YET_VALID)
    if exp - iat > policy.max_lifetime_s:
        raise TokenRejected(ReasonCode.TOKEN_LIFETIME_TOO_LONG)


def _string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name, "")
    return value if isinstance(value, str) else ""


def _principal(claims: dict[str, Any], alg: str, kid: str) -> Principal:
    scope_claim = _string_claim(claims, "scope")
    scopes, known, _ignored = parse_scope_claim(scope_claim)
    clearance = claims.get("sensitivity_clearance", [])
    if isinstance(clearance, str):
        clearance = clearance.replace(",", " ").split()
    if not isinstance(clearance, list):
        clearance = []
    return Principal(
        sub=claims["sub"],
        issuer=claims["iss"],
        client_id=_string_claim(claims, "client_id"),
        scopes=scopes,
        scope_strings=tuple(scope_claim.split()),
        has_export_scope=EXPORT_SCOPE in known,
        patient=_string_claim(claims, "patient"),
        fhir_user=_string_claim(claims, "fhirUser"),
        purpose_of_use=_string_claim(claims, "purpose_of_use"),
        clearance=frozenset(str(c) for c in clearance),
        alg=alg,
        kid=kid,
        jti=_string_claim(claims, "jti"),
        expires_at=int(claims["exp"]),
    )
