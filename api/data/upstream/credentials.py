"""How the gateway identifies itself to the upstream FHIR server: no credentials, a static
bearer token, or an OAuth 2.0 client-credentials token (RFC 6749 4.4) got with a client
secret (HTTP Basic) or a signed JWT assertion (`private_key_jwt`, RFC 7523, as SMART
Backend Services use it), cached until shortly before it expires. A token endpoint that
fails or is slow fails the request closed like the upstream itself (503/504)."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jwt

from api.data.port import UpstreamTimeout, UpstreamUnavailable

__all__ = [
    "ClientCredentials",
    "Credentials",
    "NoCredentials",
    "StaticBearer",
    "assertion_claims",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300
EXPIRY_MARGIN_S = 30.0  # a token is renewed this long before it expires
DEFAULT_LIFETIME_S = 300.0  # a token answer without expires_in


class Credentials(Protocol):
    def authorization(self, http: httpx.Client) -> str | None:
        """The Authorization header value for the next upstream request (None: none)."""
        ...

    def refused(self) -> bool:
        """The upstream refused what `authorization` gave (401): forget it; whether a new
        one is worth one retry."""
        ...


class NoCredentials:
    def authorization(self, http: httpx.Client) -> str | None:
        return None

    def refused(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class StaticBearer:
    token: str = field(repr=False)  # never in a repr, a log line or a traceback's locals

    def authorization(self, http: httpx.Client) -> str | None:
        return f"Bearer {self.token}"

    def refused(self) -> bool:
        return False


def assertion_claims(client_id: str, token_url: str, now: int, jti: str) -> dict[str, Any]:
    """The client assertion of private_key_jwt (RFC 7523 3): the client is issuer and
    subject, the token endpoint the audience, short-lived and never replayed (jti)."""
    return {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_S,
        "jti": jti,
    }


class ClientCredentials:
    """Exactly one of `client_secret` and `private_key` (a key object or PEM text, signed
    with `algorithm`, named by `key_id`)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        scope: str = "",
        client_secret: str | None = None,
        private_key: Any = None,
        algorithm: str = "RS384",
        key_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (client_secret is None) == (private_key is None):
            raise ValueError("client credentials need exactly one of a secret and a key")
        self._token_url, self._client_id, self._scope = token_url, client_id, scope
        self._secret, self._key, self._algorithm = client_secret, private_key, algorithm
        self._key_id, self._clock = key_id, clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (access token, renew after)

    def authorization(self, http: httpx.Client) -> str | None:
        with self._lock:
            if self._token is None or self._token[1] <= self._clock():
                self._token = self._fetch(http)
            return f"Bearer {self._token[0]}"

    def refused(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _fetch(self, http: httpx.Client) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        auth: httpx.Auth | None = None
        if self._secret is not None:
            auth = httpx.BasicAuth(self._client_id, self._secret)
        else:
            form |= {"client_id": self._client_id, "client_assertion_type": ASSERTION_TYPE,
                     "client_assertion": self._assertion()}  # fmt: skip
        try:
            response = http.post(self._token_url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the upstream token endpoint timed out") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the upstream token endpoint failed") from exc
        return self._token_from(response)

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = assertion_claims(self._client_id, self._token_url, now, uuid.uuid4().hex)
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def _token_from(self, response: httpx.Response) -> tuple[str, float]:
        try:
            answer = response.json() if response.status_code == 200 else {}
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise UpstreamUnavailable("the upstream token endpoint refused the client")
        lifetime = answer.get("expires_in", DEFAULT_LIFETIME_S)
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
            lifetime = DEFAULT_LIFETIME_S
        return token, self._clock() + max(0.0, float(lifetime) - EXPIRY_MARGIN_S)
