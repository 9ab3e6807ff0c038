"""Key rotation at a trusted issuer whose JWKS is served over HTTP (`jwks_uri`).

The server refreshes an issuer's keys when a token names an unknown `kid`, at most once a
minute per issuer, so rotation needs no restart and made-up key ids cannot amplify into
JWKS fetches. With no key loadable at all, every token is refused with 503, never served.
"""

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.support import JwksServer, ServerProcess, TestIssuer

pytestmark = pytest.mark.slow
PATIENT = "/fhir/Patient/pat-00001"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(**keys: rsa.RSAPrivateKey) -> dict[str, Any]:
    """A JWKS publishing the public half of each key under its kid."""
    published = []
    for kid, key in keys.items():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=kid, use="sig", alg="RS256")
        published.append(jwk)
    return {"keys": published}


@pytest.fixture
def issuer() -> TestIssuer:
    """Own issuer: starting a server points the issuer's audience at that server."""
    return TestIssuer()


@pytest.fixture
def key_a() -> rsa.RSAPrivateKey:
    return _rsa()


@pytest.fixture
def key_b() -> rsa.RSAPrivateKey:
    return _rsa()


@pytest.fixture
def jwks(key_a: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    server = JwksServer(_jwks(k1=key_a))
    yield server
    server.stop()


def _server(data: Path, issuer: TestIssuer, jwks: JwksServer, port: int = 0) -> ServerProcess:
    trusted = [{"issuer": issuer.issuer, "jwks_uri": jwks.url}]
    env = {"FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps(trusted)}
    if port:
        return ServerProcess(data, issuer, port=port, extra_env=env)
    return ServerProcess(data, issuer, extra_env=env)


@pytest.fixture
def server(tmp_path: Path, issuer: TestIssuer, jwks: JwksServer) -> Iterator[ServerProcess]:
    proc = _server(tmp_path / "data", issuer, jwks).start()
    yield proc
    if proc.process and proc.process.poll() is None:
        proc.terminate()


def _token(
    issuer: TestIssuer, key: rsa.RSAPrivateKey, kid: str, sub: str = "rotation", **extra: Any
) -> str:
    scope = str(extra.pop("scope", "system/Patient.rs"))
    claims = issuer.claims(sub, scope, **extra)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def _get(server: ServerProcess, token: str, path: str = PATIENT) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{server.base_url}{path}", headers=headers, timeout=10)


def test_rotation_is_picked_up_on_unknown_kid_without_restart(
    server: ServerProcess,
    issuer: TestIssuer,
    jwks: JwksServer,
    key_a: rsa.RSAPrivateKey,
    key_b: rsa.RSAPrivateKey,
) -> None:
    loaded = jwks.hits
    assert loaded >= 1, "the keys are loaded from the jwks_uri at start-up"

    assert _get(server, _token(issuer, key_a, "k1")).status_code == 200
    assert jwks.hits == loaded, "a known kid needs no fetch"

    jwks.publish(_jwks(k2=key_b))  # rotate: only key B is published now
    assert _get(server, _token(issuer, key_b, "k2")).status_code == 200
    assert jwks.hits == loaded + 1, "the first unknown kid refreshes the keys once"

    # A fresh token (not one the server has cached) signed by the retired key A.
    retired = _get(server, _token(issuer, key_a, "k1"))
    assert_outcome(retired, 401)
    assert 'error="invalid_token"' in retired.headers["www-authenticate"]
    audit_token = _token(issuer, key_b, "k2", "auditor", scope="system/AuditEvent.rs")
    auditor = {"Authorization": f"Bearer {audit_token}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        evidence = evidence_for(client, auditor, retired.headers["x-request-id"])
    assert evidence["decision"] == "deny"
    assert "token.signature_invalid" in evidence["reasons"]

    # Made-up key ids: at most one more fetch per minute, however many arrive.
    before = jwks.hits
    for _ in range(40):
        kid = f"k-{secrets.token_hex(8)}"
        response = _get(server, _token(issuer, key_b, kid))
        assert response.status_code == 401, response.text
    assert jwks.hits - before <= 1, f"{jwks.hits - before} JWKS fetches for unknown kids"

    # Key B keeps working throughout.
    assert _get(server, _token(issuer, key_b, "k2")).status_code == 200


def test_no_loadable_keys_refuses_every_token_with_503(
    tmp_path: Path,
    server: ServerProcess,
    issuer: TestIssuer,
    jwks: JwksServer,
    key_a: rsa.RSAPrivateKey,
) -> None:
    assert _get(server, _token(issuer, key_a, "k1")).status_code == 200
    server.terminate()
    jwks.stop()  # the issuer's JWKS endpoint is gone: nothing can be loaded at start-up

    restarted = _server(tmp_path / "data", issuer, jwks, port=server.port).start()
    try:
        tokens = [
            _token(issuer, key_a, "k1"),  # was valid a moment ago
            _token(issuer, key_a, "k1", purpose_of_use="TREAT"),
            _token(issuer, key_a, "k-unknown"),
            _token(issuer, _rsa(), "k1"),  # forged
            _token(issuer, key_a, "k1", iss="https://evil.example"),
            _token(issuer, key_a, "k1", scope="system/AuditEvent.rs"),
        ]
        for token in tokens:
            for path in (PATIENT, "/fhir/Observation", "/audit/principals/rotation/accesses"):
                response = _get(restarted, token, path)
                assert response.status_code != 200, f"served without verification keys: {path}"
                assert_outcome(response, 503)
    finally:
        restarted.terminate()
