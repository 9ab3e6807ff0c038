"""The gateway's credentials at a token endpoint of our own (a real HTTP server on loopback,
beside an upstream FHIR endpoint that takes only the tokens it issued): client_secret_basic
and private_key_jwt (the assertion verified with the configured key: signature, aud = the
token URL, iss = sub = the client id, exp, a jti never replayed), built from the settings as
`serve` builds them; the token got once and cached, got again after a 401 (one retry, not
more), and no secret, assertion or token in any log line, repr or error."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from api.boot.stores import open_upstream
from api.data.port import UpstreamUnavailable
from api.data.upstream import UpstreamFhir
from api.settings import Settings

CLIENT_ID, SECRET = "gateway-client", "s3cret-never-logged"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}}


@dataclass
class Authority:
    """What the token endpoint checks and what it has issued and seen."""

    key: rsa.RSAPrivateKey
    token_url: str = ""
    issued: list[str] = field(default_factory=list)  # tokens, in order; the live ones below
    live: set[str] = field(default_factory=set)
    jtis: set[str] = field(default_factory=set)
    refusals: list[str] = field(default_factory=list)  # why a token request was refused
    fhir_calls: int = 0
    taking: bool = True  # whether the upstream takes the tokens issued
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client_authenticated(self, headers: Any, form: dict[str, str]) -> str:
        """ "" when the client proved who it is, else why not."""
        basic = headers.get("Authorization", "")
        if basic:
            user, _, password = (
                base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
            )
            return "" if (user, password) == (CLIENT_ID, SECRET) else "bad basic credentials"
        if (
            form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return "no client authentication"
        assertion = form.get("client_assertion", "")
        try:
            claims = jwt.decode(
                assertion, self.key.public_key(), algorithms=["RS384"], audience=self.token_url,
                issuer=CLIENT_ID, options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            return f"assertion: {type(exc).__name__}"
        if jwt.get_unverified_header(assertion).get("kid") != "gateway-key-1":
            return "assertion: kid"
        if claims["sub"] != CLIENT_ID or form.get("client_id") != CLIENT_ID:
            return "assertion: sub or client_id"
        if not 0 < claims["exp"] - time.time() <= 300 or claims["jti"] in self.jtis:
            return "assertion: exp or a replayed jti"
        self.jtis.add(claims["jti"])
        return ""


def _serve(authority: Authority) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the token endpoint
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            with authority.lock:
                why = authority.client_authenticated(self.headers, form)
                if form.get("grant_type") != "client_credentials" or why:
                    authority.refusals.append(why or "grant_type")
                    return self._send(401, {"error": "invalid_client"})
                token = f"tok-{len(authority.issued) + 1}-opaque-value"
                authority.issued.append(token)
                authority.live.add(token)
            self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def do_GET(self) -> None:  # the upstream FHIR server
            with authority.lock:
                authority.fhir_calls += 1
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                allowed = authority.taking and token in authority.live
            if not allowed:
                return self._send(401, {"resourceType": "OperationOutcome"})
            self._send(200, PATIENT if "Patient/p1" in self.path else {"resourceType": "x"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    authority.token_url = f"http://127.0.0.1:{server.server_address[1]}/token"
    return server


@pytest.fixture
def authority() -> Iterator[Authority]:
    found = Authority(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    server = _serve(found)
    yield found
    server.shutdown()


def _gateway(
    authority: Authority, tmp_path: Path, method: str, secret: str = SECRET
) -> tuple[UpstreamFhir, Settings]:
    """The gateway's data port as `serve` builds it from its settings."""
    base = authority.token_url.removesuffix("/token")
    credentials: dict[str, Any] = {"upstream_client_secret": secret}
    if method == "private_key_jwt":
        pem = authority.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())  # fmt: skip
        (tmp_path / "key.pem").write_bytes(pem)
        credentials = {"upstream_private_key_file": tmp_path / "key.pem",
                       "upstream_key_id": "gateway-key-1"}  # fmt: skip
    settings = Settings(
        data_dir=tmp_path, upstream_fhir_url=f"{base}/fhir", upstream_auth="client_credentials",
        upstream_token_url=authority.token_url, upstream_client_id=CLIENT_ID, **credentials,
    )  # fmt: skip
    gateway = open_upstream(settings)
    assert isinstance(gateway, UpstreamFhir)
    return gateway, settings


@pytest.mark.parametrize("method", ["client_secret_basic", "private_key_jwt"])
def test_token_got_cached_renewed_after_a_401_and_never_logged(
    authority: Authority, tmp_path: Path, method: str
) -> None:
    gateway, settings = _gateway(authority, tmp_path, method)
    with capture_logs() as logs:
        for _ in range(3):
            found = gateway.read("Patient", "p1")
            assert found is not None and found.id == "p1"
        assert len(authority.issued) == 1 and authority.refusals == []  # cached
        authority.live.clear()  # the upstream no longer takes it (revoked, rotated)
        assert gateway.read("Patient", "p1") is not None
        assert len(authority.issued) == 2  # renewed once, the request retried with it
        authority.taking = False  # every token refused from now on
        with pytest.raises(UpstreamUnavailable) as refused:
            gateway.read("Patient", "p1")
    assert any(entry.get("status") == 401 for entry in logs)  # the log was captured
    calls = authority.fhir_calls
    assert calls == 3 + 2 + 2  # one retry after a 401, never more
    assert len(authority.jtis) == (3 if method == "private_key_jwt" else 0)  # one per token
    exposed = " ".join([repr(logs), repr(settings), str(settings.model_dump()), repr(refused.value),
                        str(refused.value)])  # fmt: skip
    for secret in (SECRET, *authority.issued[:3], "BEGIN PRIVATE KEY", "client_assertion"):
        assert secret not in exposed, secret
    gateway.close()


def test_a_refused_client_fails_closed_and_names_nothing(
    authority: Authority, tmp_path: Path
) -> None:
    """A wrong secret, an assertion signed by another key: the token endpoint refuses, the
    upstream is never asked, the error names neither the endpoint nor the secret."""
    wrong_secret, _ = _gateway(authority, tmp_path, "client_secret_basic", secret="wrong")
    wrong_key, _ = _gateway(authority, tmp_path, "private_key_jwt")
    authority.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not ours
    with capture_logs() as logs:
        for gateway in (wrong_secret, wrong_key):
            with pytest.raises(UpstreamUnavailable) as caught:
                gateway.read("Patient", "p1")
            assert authority.token_url not in str(caught.value) and "wrong" not in str(caught.value)
            gateway.close()
    assert authority.refusals == ["bad basic credentials", "assertion: InvalidSignatureError"]
    assert authority.fhir_calls == 0 and not authority.issued
    assert authority.token_url not in repr(logs) and "wrong" not in repr(logs)
