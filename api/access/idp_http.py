"""HTTP to identity providers (the imperative shell of discovery and introspection): short
timeouts, no redirects followed, bodies read only up to a bound. Every failure, httpx's
included, becomes IdpUnreachable; its message names no URL, host or token."""

import base64
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

import httpx

from evidence.core import FhirEvidenceError

FETCH_TIMEOUT_S = 3.0
INTROSPECTION_TIMEOUT_S = 2.0


class IdpUnreachable(FhirEvidenceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="issuer.unreachable")


@dataclass(frozen=True, slots=True)
class IdpAnswer:
    status: int
    body: bytes
    json: bool  # the content type says JSON


def get(url: str, limit: int, timeout_s: float = FETCH_TIMEOUT_S) -> IdpAnswer:
    return _send("GET", url, limit, timeout_s)


def post_form(
    url: str, form: dict[str, str], basic: tuple[str, str], limit: int, timeout_s: float
) -> IdpAnswer:
    """POST a form with client_secret_basic authentication (RFC 6749 2.3.1: the id and the
    secret form-encoded before base64)."""
    pair = f"{quote_plus(basic[0])}:{quote_plus(basic[1])}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return _send("POST", url, limit, timeout_s, form, headers)


def _send(
    method: str,
    url: str,
    limit: int,
    timeout_s: float,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> IdpAnswer:
    request_headers = {"Accept": "application/json", **(headers or {})}
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream(method, url, data=form, headers=request_headers) as response,
        ):
            body, deadline = bytearray(), time.monotonic() + timeout_s
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise IdpUnreachable("answer too large")
                if time.monotonic() > deadline:  # a trickle: the timeout is per read
                    raise IdpUnreachable("answer too slow")
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            is_json = kind == "application/json" or kind.endswith("+json")
            return IdpAnswer(response.status_code, bytes(body), is_json)
    except httpx.HTTPError as exc:
        raise IdpUnreachable(type(exc).__name__) from None


__all__ = ["FETCH_TIMEOUT_S", "IdpAnswer", "IdpUnreachable", "get", "post_form"]
