"""Test support: a test token issuer whose keys the tests hold, and a real server process."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://issuer.test.example"


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

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
        ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
        return {"keys": [rsa_jwk, ec_jwk]}

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
        key = self.rsa_key if alg in {"RS256", "PS256"} else self.ec_key
        kid = "rsa-1" if key is self.rsa_key else "ec-1"
        return jwt.encode(
            self.claims(sub, scope, ttl, **extra),
            key,
            algorithm=alg,
            headers={"kid": kid, "typ": "at+jwt"},
        )

    def sign(self, claims: dict[str, Any], alg: str = "RS256", **headers: Any) -> str:
        key = self.rsa_key if alg in {"RS256", "PS256"} else self.ec_key
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": "rsa-1", **headers})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            **self.extra_env,
        )
        return env

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.issuer.audience = f"{self.base_url}/fhir"
        log = open(self.data_dir.parent / f"{self.data_dir.name}-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
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
