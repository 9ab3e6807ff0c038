"""Opaque, signed, expiring paging cursors bound to the principal and the query (pure)."""

import base64
import binascii
import hashlib
import hmac

import orjson

from evidence.core import FhirEvidenceError, ReasonCode

CURSOR_TTL_S = 900
_SIG_BYTES = 16


class CursorInvalid(FhirEvidenceError):
    code = str(ReasonCode.CURSOR_INVALID)


def query_fingerprint(resource_type: str, params: list[tuple[str, str]]) -> str:
    canonical = orjson.dumps([resource_type, sorted(params)])
    return hashlib.sha256(canonical).hexdigest()[:32]


def encode_cursor(key: bytes, sub: str, fingerprint: str, position: int | str, now: int) -> str:
    body = orjson.dumps({"s": sub, "q": fingerprint, "p": position, "e": now + CURSOR_TTL_S})
    sig = hmac.digest(key, body, "sha256")[:_SIG_BYTES]
    return base64.urlsafe_b64encode(body + sig).decode().rstrip("=")


def decode_cursor(key: bytes, token: str, sub: str, fingerprint: str, now: int) -> int | str:
    """The position the cursor points at; CursorInvalid when tampered, expired or foreign."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CursorInvalid("cursor unreadable") from exc
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        # The decoder skips stray characters, maps "+/" like "-_" and ignores spare
        # trailing bits: only the exact encoding we issued is accepted.
        raise CursorInvalid("cursor not canonical")
    body, sig = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
    if len(raw) <= _SIG_BYTES or not hmac.compare_digest(
        sig, hmac.digest(key, body, "sha256")[:_SIG_BYTES]
    ):
        raise CursorInvalid("cursor signature invalid")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CursorInvalid("cursor unreadable") from exc
    if not isinstance(data, dict) or data.get("s") != sub or data.get("q") != fingerprint:
        raise CursorInvalid("cursor belongs to another principal or query")
    if not isinstance(data.get("e"), int) or data["e"] < now:
        raise CursorInvalid("cursor expired")
    position = data["p"]
    if not isinstance(position, int | str):
        raise CursorInvalid("cursor position malformed")
    return position
