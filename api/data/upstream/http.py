"""The gateway's HTTP client of the upstream FHIR server (imperative shell): one bounded
connection pool, bounded timeouts, no redirects followed, credentials on every request.

Failures are translated here and go no further: connection refused, a 5xx, a refusal of
our own credentials or an unreadable answer are UpstreamUnavailable (503), a timeout
(connecting, reading, or waiting for a pooled connection) UpstreamTimeout (504). Neither
carries the upstream's URL, host or diagnostics, and nothing is logged of a request but
its kind and status (never an id, a parameter or a body).
"""

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog

from api.data.port import UpstreamTimeout, UpstreamUnavailable
from api.data.upstream.credentials import Credentials, NoCredentials

__all__ = ["Answer", "UpstreamConfig", "UpstreamHttp"]

log = structlog.get_logger("fhir_evidence.upstream")
FHIR_JSON = "application/fhir+json"
META_SNAPSHOT = "TAG, PROFILE, SECURITY_LABEL"


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    base_url: str  # e.g. https://fhir.example/fhir
    credentials: Credentials = field(default_factory=NoCredentials)
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    pool_size: int = 20  # connections; a request waits at most connect_timeout_s for one


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any  # the parsed JSON, or None
    etag: str | None = None


class UpstreamHttp:
    def __init__(self, config: UpstreamConfig, transport: httpx.BaseTransport | None = None):
        timeout = httpx.Timeout(
            config.read_timeout_s, connect=config.connect_timeout_s,
            pool=config.connect_timeout_s,
        )  # fmt: skip
        limits = httpx.Limits(
            max_connections=config.pool_size, max_keepalive_connections=config.pool_size
        )
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/") + "/",
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            transport=transport,
            headers={"Accept": FHIR_JSON},
        )
        self._credentials = config.credentials

    def close(self) -> None:
        self._http.close()

    def get(
        self, path: str, params: tuple[tuple[str, str], ...] = (), timeout_s: float | None = None
    ) -> Answer:
        """`timeout_s` bounds this request alone (connecting, waiting, reading) more tightly."""
        if timeout_s is None:
            return self._send("GET", path, params=params)
        return self._send("GET", path, params=params, timeout=httpx.Timeout(timeout_s))

    def search(self, path: str, params: tuple[tuple[str, str], ...]) -> Answer:
        """A search: GET, or POST `_search` with a form when the query is long."""
        if sum(len(k) + len(v) + 2 for k, v in params) < 3000:
            return self._send("GET", path, params=params)
        body = str(httpx.QueryParams(params)).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._send("POST", f"{path}/_search", content=body, headers=headers)

    def put(self, path: str, resource: dict[str, Any], if_match: str | None = None) -> Answer:
        """The body's meta is the new version's whole meta: HAPI would otherwise keep the
        labels, tags and profiles of the earlier version (its snapshot header; a server
        that knows it not ignores it), and the version stored would not be the one the
        guard judged (the answer is judged again all the same)."""
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation",
                   "X-Meta-Snapshot-Mode": META_SNAPSHOT}  # fmt: skip
        if if_match:
            headers["If-Match"] = if_match
        return self._send("PUT", path, content=orjson.dumps(resource), headers=headers)

    def post(self, path: str, resource: dict[str, Any]) -> Answer:
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        return self._send("POST", path, content=orjson.dumps(resource), headers=headers)

    def delete(self, path: str) -> Answer:
        return self._send("DELETE", path)

    def _send(self, method: str, path: str, **kwargs: Any) -> Answer:
        response = self._attempt(method, path, kwargs)
        if response.status_code == 401 and self._credentials.refused():
            response = self._attempt(method, path, kwargs)  # once, with a fresh token
        return self._answer(method, response)

    def _attempt(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        headers = dict(kwargs.get("headers") or {})
        authorization = self._credentials.authorization(self._http)
        if authorization:
            headers["Authorization"] = authorization
        try:
            return self._http.request(method, path, **{**kwargs, "headers": headers})
        except httpx.TimeoutException as exc:
            log.warning("upstream timed out", method=method)
            raise UpstreamTimeout("the upstream FHIR server timed out") from exc
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable", method=method, error=type(exc).__name__)
            raise UpstreamUnavailable("the upstream FHIR server is unreachable") from exc

    def _answer(self, method: str, response: httpx.Response) -> Answer:
        status = response.status_code
        if status >= 500 or status in {401, 403, 407, 429} or 300 <= status < 400:
            log.warning("upstream refused", method=method, status=status)
            raise UpstreamUnavailable("the upstream FHIR server failed")
        body = None
        if response.content:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                if 200 <= status < 300:
                    log.warning("upstream answer unreadable", method=method, status=status)
                    raise UpstreamUnavailable("the upstream answer is unreadable") from None
        return Answer(status, body, response.headers.get("etag"))
