"""The shape of an access token's parts and claims (pure): strict JSON, the time window,
the audience, purpose of use, and the Principal built from verified claims."""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from api.security.principal import Principal
from api.security.scopes import EXPORT_SCOPE, parse_scope_claim
from evidence.core import FhirEvidenceError, ReasonCode

MAX_TOKEN_BYTES = 8192
MAX_HEADER_BYTES = 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
# HL7 v3 PurposeOfUse (ActReason subtree), the codes a token may carry.
PURPOSES_OF_USE = frozenset(
    """BIORCH BTG CAREMGT CLINTRCH CLINTRCHNPC CLINTRCHPC CLINTRL CLMATTCH COC COVAUTH COVERAGE
    DISASTER DONAT DSRCH ELIGDTRM ELIGVER ENROLLM ERTREAT ETREAT FAMRQT FRAUD GOV HACCRED HCOMPL
    HDECD HDIRECT HDM HLEGAL HMARKT HOPERAT HOUTCOMS HPAYMT HPRGRP HQUALIMP HRESCH HSYSADMIN HTEST
    LABELING MEMADMIN METAMGT MILCDM MILDCRG PATADMIN PATRQT PATSFTY PERFMSR POARCH POPHLTH
    PRECLINRCH PUBHLTH PWATRNY RECORDMGT REMITADV SUPNWK SYSDEV THREAT TRAIN TRANSRCH
    TREAT""".split()
)


class TokenRejected(FhirEvidenceError):
    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(detail or str(reason), code=str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    max_lifetime_s: int = 3600
    leeway_s: int = 30


def _malformed(detail: str) -> TokenRejected:
    return TokenRejected(ReasonCode.TOKEN_MALFORMED, detail)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: bytes) -> Any:
    """JSON as a token or an identity provider's answer must be: no duplicate members (which
    one would count is ambiguous), no NaN or Infinity. Raises ValueError (UnicodeDecodeError
    for bytes that are not UTF-8)."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def b64url_bytes(segment: str) -> bytes:
    """Strict, canonical base64url without padding: any other character is refused, not
    skipped, and so is a segment whose unused trailing bits are not zero (two spellings of
    the same bytes: the token would not be the one that was signed or cached)."""
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise _malformed("segment is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _malformed("segment is not base64url") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise _malformed("segment is not canonical base64url")
    return raw


def strict_segment(segment: str) -> dict[str, Any]:
    """A base64url JSON object, strictly: no padding, no stray characters, no duplicate
    members (ambiguous claims), no NaN/Infinity."""
    raw = b64url_bytes(segment)
    try:
        value = strict_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _malformed("segment is not a JSON object") from exc
    if not isinstance(value, dict):
        raise _malformed("segment is not a JSON object")
    return value


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) before any signature check; TokenRejected(malformed) if misshapen."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise _malformed("token size or shape")
    header_segment, claims_segment, _ = token.split(".")
    if len(header_segment) > MAX_HEADER_BYTES:
        raise _malformed("header too large")
    return strict_segment(header_segment), strict_segment(claims_segment)


def int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(f"claim {name} missing or not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _malformed(f"claim {name} not a finite number")
    return int(value)


def check_claims(claims: dict[str, Any], audience: str, now: int, policy: TokenPolicy) -> None:
    """Everything but the signature and the issuer, each refusal with its own reason."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _malformed("claim sub missing")
    exp, iat = int_claim(claims, "exp"), int_claim(claims, "iat")
    _check_shapes(claims)
    granted = claims.get("aud")
    audiences = [granted] if isinstance(granted, str) else granted
    if not isinstance(audiences, list) or audience not in audiences:
        raise TokenRejected(ReasonCode.TOKEN_AUDIENCE_MISMATCH)
    if exp + policy.leeway_s < now:
        raise TokenRejected(ReasonCode.TOKEN_EXPIRED)
    nbf = int_claim(claims, "nbf") if "nbf" in claims else iat
    if max(nbf, iat) - policy.leeway_s > now:
        raise TokenRejected(ReasonCode.TOKEN_NOT_YET_VALID)
    if exp - iat > policy.max_lifetime_s:
        raise TokenRejected(ReasonCode.TOKEN_LIFETIME_TOO_LONG)


def _check_shapes(claims: dict[str, Any]) -> None:
    for name in ("scope", "client_id", "jti", "patient", "fhirUser", "purpose_of_use"):
        if name in claims and not isinstance(claims[name], str):
            raise _malformed(f"claim {name} is not a string")
    purpose = claims.get("purpose_of_use")
    if purpose is not None and purpose not in PURPOSES_OF_USE:
        raise _malformed("purpose_of_use is not an HL7 v3 PurposeOfUse code")


def _clearance(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("sensitivity_clearance", [])
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(code) for code in value)


def principal_from_claims(claims: dict[str, Any], alg: str, kid: str) -> Principal:
    scope_claim = claims.get("scope", "")
    scopes, known, _ignored = parse_scope_claim(scope_claim)
    return Principal(
        sub=claims["sub"],
        issuer=claims["iss"],
        client_id=claims.get("client_id", ""),
        scopes=scopes,
        scope_strings=tuple(scope_claim.split()),
        has_export_scope=EXPORT_SCOPE in known,
        known_scopes=frozenset(known),
        patient=claims.get("patient", ""),
        fhir_user=claims.get("fhirUser", ""),
        purpose_of_use=claims.get("purpose_of_use", ""),
        clearance=_clearance(claims),
        alg=alg,
        kid=kid,
        jti=claims.get("jti", ""),
        expires_at=int(claims["exp"]),
    )
