"""`GET /livez` and `GET /readyz` (pure ASGI, outside the evidence middleware).

They are answered before any other layer: no token, no evidence recorded (an orchestrator
probing every few seconds would otherwise fill the evidence with its own probes), not
routes of the app (so not in the CapabilityStatement or the route walk). `/livez` says the
process answers; `/readyz` says whether its checks hold (stream.health), naming only the
checks that fail.
"""

from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from stream.health import readiness

LIVEZ, READYZ = "/livez", "/readyz"
Failing = Callable[[], list[str]]  # the names of the checks that do not hold


def health_answer(path: str, failing: Failing) -> tuple[int, bytes] | None:
    """(status, JSON body) for a health path, None for any other path."""
    if path == LIVEZ:
        return 200, b'{"status":"ok"}'
    if path == READYZ:
        status, body = readiness(failing())
        return status, orjson.dumps(body)
    return None


class HealthMiddleware:
    def __init__(self, app: ASGIApp, failing: Failing) -> None:
        self.app, self.failing = app, failing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        answer = health_answer(scope["path"], self.failing)
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, body = answer
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store")]  # fmt: skip
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})  # fmt: skip
