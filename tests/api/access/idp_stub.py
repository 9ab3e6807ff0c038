"""A small identity provider the test controls, served over real HTTP on loopback:
discovery, JWKS and RFC 7662 introspection, each switchable to down (503), slow, or
malformed; it counts the requests per path and checks the introspection client's
credentials (client_secret_basic)."""

import base64
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

CLIENT = ("fhir-introspector", "s3cret")


class IdpStub:
    def __init__(self, jwks: dict[str, Any] | None = None) -> None:
        self.jwks: dict[str, Any] = jwks or {"keys": []}
        self.active: dict[str, dict[str, Any]] = {}  # token -> its active answer
        self.modes: dict[str, str] = {}  # path suffix -> "down" | "slow" | "malformed"
        self.hits: dict[str, int] = {}
        self.discovery_overrides: dict[str, Any] = {}
        self.slow_s = 2.5  # past the introspection timeout (2 s)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._serve(self, owner._get_body(self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                owner._serve(self, owner._introspect(self, form))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/realms/test"

    def document(self) -> dict[str, Any]:
        base = f"{self.issuer}/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{base}/certs",
            "token_endpoint": f"{base}/token",
            "authorization_endpoint": f"{base}/auth",
            "introspection_endpoint": f"{base}/token/introspect",
            "revocation_endpoint": f"{base}/revoke",
            "code_challenge_methods_supported": ["plain", "S256"],
            **self.discovery_overrides,
        }

    def count(self, suffix: str) -> int:
        return sum(n for path, n in self.hits.items() if path.endswith(suffix))

    def _mode(self, path: str) -> str:
        self.hits[path] = self.hits.get(path, 0) + 1
        return next((m for suffix, m in self.modes.items() if path.endswith(suffix)), "")

    def _get_body(self, path: str) -> tuple[int, bytes, str]:
        mode = self._mode(path)
        if path.endswith("/.well-known/openid-configuration"):
            return self._answer(mode, self.document())
        if path.endswith("/certs"):
            return self._answer(mode, self.jwks)
        return 404, b"{}", "application/json"

    def _introspect(
        self, handler: BaseHTTPRequestHandler, form: dict[str, list[str]]
    ) -> tuple[int, bytes, str]:
        mode = self._mode(handler.path)
        expected = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            return 401, b'{"error":"invalid_client"}', "application/json"
        token = form.get("token", [""])[0]
        return self._answer(mode, self.active.get(token, {"active": False}))

    def _answer(self, mode: str, document: Any) -> tuple[int, bytes, str]:
        if mode == "down":
            return 503, b"", "text/plain"
        if mode == "slow":
            time.sleep(self.slow_s)
        if mode == "malformed":
            return 200, b'{"active": "true", "keys": {}', "application/json"
        return 200, json.dumps(document).encode(), "application/json"

    @staticmethod
    def _serve(handler: BaseHTTPRequestHandler, answer: tuple[int, bytes, str]) -> None:
        status, body, kind = answer
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (slow mode)
            handler.wfile.write(body)

    def stop(self) -> None:
        self._httpd.shutdown()
