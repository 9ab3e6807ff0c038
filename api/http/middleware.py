"""EvidenceMiddleware (pure ASGI): one AccessEvent per request, durable before the response.

The event is appended to the outbox when the handler starts its response; the response
is released only after the append returned. If the outbox cannot be written the client
gets a 503 OperationOutcome instead (fail closed). Unhandled errors become a 500 that
discloses nothing. Bodies over the limit are refused with 413 before they are read;
callers without a valid token over their address's rate get 429 before anything of their
request is read (api.http.door). The client address (api.http.client_address: the peer, or
behind trusted proxies their `X-Forwarded-For`) is recorded and keys that throttle.
"""

import re
import uuid
from collections.abc import Callable

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.caller_text import recorded_word
from api.http.client_address import IPNetwork, client_address, recorded_address
from api.http.door import Door
from api.http.metrics import count_request
from api.http.outcomes import FHIR_JSON, operation_outcome
from api.http.request_audit import RequestAudit
from api.security.verdict import Verdict, deny
from evidence.core import ReasonCode
from stream.outbox import OutboxUnavailable, OutboxWriter

log = structlog.get_logger("fhir_evidence.http")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
Clock = Callable[[], int]  # microseconds since the epoch
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # the only ones whose handlers read bodies
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TOO_LARGE = deny(ReasonCode.REQUEST_TOO_LARGE)
THROTTLED = deny(ReasonCode.RATE_LIMITED)
FAILED = deny(ReasonCode.DEPENDENCY_FAILED)


class BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [str(value.decode("latin-1")) for key, value in scope.get("headers", []) if key == name]


def _outcome_messages(
    status: int, code: str, text: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> list[Message]:
    body = orjson.dumps(operation_outcome("error", code, text))
    headers = [
        (b"content-type", FHIR_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


class EvidenceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        outbox: OutboxWriter,
        clock: Clock,
        max_body_bytes: int,
        text_key: bytes = b"",
        vocabulary: frozenset[str] = frozenset(),
        door: Door | None = None,
        trusted_proxies: tuple[IPNetwork, ...] = (),
    ) -> None:
        """`text_key` keys the hashed forms of caller text, `vocabulary` is every parameter
        name the app knows (api.http.caller_text); `door` throttles unauthenticated callers;
        `trusted_proxies` are the proxies whose `X-Forwarded-For` is believed."""
        self.app = app
        self.trusted_proxies = trusted_proxies
        self.outbox = outbox
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.text_key, self.vocabulary, self.door = text_key, vocabulary, door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        match = _TRACEPARENT.match(_header(scope, b"traceparent"))
        method = recorded_word(scope["method"], HTTP_METHODS, self.text_key)
        trace_id = match.group(1) if match else request_id
        address = self._client_address(scope)
        audit = RequestAudit(request_id, trace_id, method, self.text_key, self.vocabulary,
                             recorded_address(address))  # fmt: skip
        scope.setdefault("state", {})["audit"] = audit
        structlog.contextvars.bind_contextvars(request_id=request_id)
        exchange = _Exchange(self, scope, send, audit)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await exchange.refuse(TOO_LARGE, 413, "too-costly", "The request body is too large.")
            return
        if self.door is not None:
            wait = self.door.admit(address, _header(scope, b"authorization"))
            if wait is not None:
                retry = ((b"retry-after", str(wait).encode()),)
                await exchange.refuse(THROTTLED, 429, "throttled", "Too many requests.", retry)
                return
        try:
            if scope["method"] in _BODY_METHODS:
                receive = exchange.limited_receive(receive)
            await self.app(scope, receive, exchange.send)
        except BodyTooLarge:
            await exchange.refuse(TOO_LARGE, 413, "too-costly", "The request body is too large.")
        except Exception:
            log.exception("unhandled error", request_id=request_id)
            await exchange.refuse(FAILED, 500, "exception", "An internal error occurred.")

    def _client_address(self, scope: Scope) -> str:
        peer = str((scope.get("client") or ("", 0))[0])
        forwarded = _headers(scope, b"x-forwarded-for") if self.trusted_proxies else []
        return client_address(peer, forwarded, self.trusted_proxies)


class _Exchange:
    """The send side of one request: audits at response start, swallows after a refusal."""

    def __init__(
        self, mw: EvidenceMiddleware, scope: Scope, send: Send, audit: RequestAudit
    ) -> None:
        self.mw, self.scope, self.downstream, self.audit = mw, scope, send, audit
        self.started = False
        self.replaced = False
        self.received = 0

    def limited_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            self.received += len(message.get("body", b""))
            if self.received > self.mw.max_body_bytes:
                raise BodyTooLarge
            return message

        return wrapped

    async def send(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            if not await self._record(message["status"]):
                return
            message = dict(message)
            message["headers"] = [
                *message.get("headers", []),
                (b"x-request-id", self.audit.request_id.encode()),
            ]
            self.started = True
        await self.downstream(message)

    async def _record(self, status: int) -> bool:
        route = getattr(self.scope.get("route"), "path", "") or "unmatched"
        event = self.audit.to_event(uuid.uuid4().hex, self.mw.clock(), route, status)
        try:
            await self.mw.outbox.append(event)
            count_request(status, str(event.decision))
        except OutboxUnavailable:
            count_request(503, "unrecorded")
            log.error("audit outbox unavailable; refusing", request_id=self.audit.request_id)
            self.replaced = True
            start, body = _outcome_messages(
                503, "transient", "The service is temporarily unavailable."
            )
            start["headers"].append((b"x-request-id", self.audit.request_id.encode()))
            await self.downstream(start)
            await self.downstream(body)
            return False
        return True

    async def refuse(
        self, verdict: Verdict, status: int, code: str, text: str,
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:  # fmt: skip
        """Answer for the app (too large, throttled, failed): its verdict recorded like any
        other."""
        if self.started:
            return  # the response is under way; its event is recorded already
        self.audit.conclude(verdict)
        for message in _outcome_messages(status, code, text, extra):
            await self.send(message)


class UnrecordedAuditMiddleware:
    """Gives handlers an audit context that is never recorded (benchmark baseline only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            audit = RequestAudit("baseline", "baseline", scope["method"])
            scope.setdefault("state", {})["audit"] = audit
        await self.app(scope, receive, send)
