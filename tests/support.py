"""Test support: a test token issuer whose keys the tests hold, and a real server process."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.kafka_broker import in_ci

ISSUER = "https://issuer.test.example"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_jwt(header: str, payload: str, signature: bytes = b"") -> str:
    """A compact JWS from header and payload JSON *text* taken verbatim, and a signature."""
    return ".".join((b64url(header.encode()), b64url(payload.encode()), b64url(signature)))


def sign_input(signing_input: bytes, key: Any, alg: str) -> bytes:
    """The JWS signature of `signing_input` with a private key (PyJWT's algorithm objects)."""
    algorithm = jwt.algorithms.get_default_algorithms()[alg]
    return bytes(algorithm.sign(signing_input, algorithm.prepare_key(key)))


@dataclass
class TestIssuer:
    """Holds RSA and EC keys; publishes them as a JWKS file; mints tokens."""

    __test__ = False

    issuer: str = ISSUER
    audience: str = ""
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ed_key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    publish_ed25519: bool = False  # opt-in: adds the Ed25519 key "ed-1" to the JWKS

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
        ed_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.ed_key.public_key()))
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
        ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
        ed_jwk.update(kid="ed-1", use="sig", alg="EdDSA")
        return {"keys": [rsa_jwk, ec_jwk, *([ed_jwk] if self.publish_ed25519 else [])]}

    def key_for(self, alg: str) -> tuple[Any, str]:
        """(private key, kid) that signs `alg`: RS*/PS* RSA, EdDSA Ed25519, else EC."""
        if alg.startswith(("RS", "PS")):
            return self.rsa_key, "rsa-1"
        if alg == "EdDSA":
            return self.ed_key, "ed-1"
        return self.ec_key, "ec-1"

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def claims(self, sub: str, scope: str, ttl: int = 300, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "client_id": "test-client",
            "scope": scope,
        }
        claims.update(extra)
        return claims

    def token(self, sub: str, scope: str, ttl: int = 300, alg: str = "RS256", **extra: Any) -> str:
        key, kid = self.key_for(alg)
        return jwt.encode(
            self.claims(sub, scope, ttl, **extra),
            key,
            algorithm=alg,
            headers={"kid": kid, "typ": "at+jwt"},
        )

    def sign(self, claims: dict[str, Any], alg: str = "RS256", **headers: Any) -> str:
        key, _kid = self.key_for(alg)
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": "rsa-1", **headers})

    def sign_raw(self, header: str, payload: str, alg: str = "RS256") -> str:
        """Sign header and payload JSON text verbatim (e.g. with a duplicated claim)."""
        key, _kid = self.key_for(alg)
        signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}".encode()
        return f"{signing_input.decode()}.{b64url(sign_input(signing_input, key, alg))}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_children(supervisor: int) -> dict[int, str]:
    """{pid: "api" or "pipeline"} of the processes `serve --workers N` started, from /proc, by
    their `--parent` argument (so also once the supervisor is gone and they are orphans)."""
    found = {}
    parent = str(supervisor).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve-process" not in argv or b"--parent" not in argv:
            continue  # not ours; ours always carry `--parent <pid>`
        if argv[argv.index(b"--parent") + 1] == parent:
            found[int(entry.name)] = argv[argv.index(b"serve-process") + 1].decode()
    return found


@dataclass
class ServerProcess:
    """`fhir-evidence serve` on a real port, in its own data dir."""

    data_dir: Path
    issuer: TestIssuer
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        jwks = self.issuer.write_jwks(self.data_dir.parent / f"{self.data_dir.name}-jwks.json")
        issuers = [{"issuer": self.issuer.issuer, "jwks_file": str(jwks)}]
        env = dict(os.environ)
        env.update(
            FHIR_EVIDENCE_DATA_DIR=str(self.data_dir),
            FHIR_EVIDENCE_BASE_URL=self.base_url,
            FHIR_EVIDENCE_TRUSTED_ISSUERS=json.dumps(issuers),
            # opt-in endpoints the e2e tests read (schemathesis: the OpenAPI description)
            FHIR_EVIDENCE_EXPOSE_OPENAPI="true",
            FHIR_EVIDENCE_EXPOSE_METRICS="true",
            # adversarial suites send hundreds of refused requests from one address
            FHIR_EVIDENCE_UNAUTHENTICATED_RATE_LIMIT_PER_S="0",
            # one process (not one per core): the tests read its metrics, rate limits and
            # log, signal its pid, and restart it; tests/e2e/test_serve_workers.py asks for 2
            FHIR_EVIDENCE_WORKERS="1",
        )
        env.update(self.extra_env)  # may override any of the above
        return env

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.issuer.audience = f"{self.base_url}/fhir"
        log = open(self.data_dir.parent / f"{self.data_dir.name}-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.boot.cli", "serve", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/fhir/metadata", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready")

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def log_text(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}-server.log").read_text()


@contextmanager
def running_server(
    data_dir: Path, issuer: TestIssuer, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A started ServerProcess on `data_dir`, for a session fixture to yield; terminated on
    leaving unless it has exited already (a test may have stopped or killed it)."""
    server = ServerProcess(data_dir, issuer, extra_env=extra_env or {}).start()
    try:
        yield server
    finally:
        if server.process and server.process.poll() is None:
            server.terminate()


def unavailable(reason: str, tests: str) -> NoReturn:
    """What a test does when what it needs cannot start (a broker, a JVM, a browser): under
    CI=true it fails, as `tests` ("Kafka tests") must not be skipped there; elsewhere it skips,
    saying why."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: {tests} must not be skipped)", pytrace=False)
    pytest.skip(reason)


class JwksServer:
    """A JWKS document served over HTTP on loopback from a thread; counts the requests."""

    def __init__(self, document: dict[str, Any] | None = None, port: int = 0) -> None:
        self.document: dict[str, Any] = document if document is not None else {"keys": []}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests.append(self.path)
                    body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    @property
    def hits(self) -> int:
        with self._lock:
            return len(self.requests)

    def publish(self, document: dict[str, Any]) -> None:
        with self._lock:
            self.document = document

    def reset(self) -> None:
        """Forget the requests counted so far."""
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy; returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
