"""Trusted issuers: JWKS from a file or a URI, refresh on unknown kid at most once a minute,
private key material and unusable keys ignored, an unreachable JWKS fails closed."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from api.access.issuers import IssuerKeys, keys_from_jwks
from api.settings import TrustedIssuer
from tests.support import TestIssuer


class _JwksServer:
    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.hits = 0
        self.failing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                if owner.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"


@pytest.fixture
def jwks_server() -> Iterator[_JwksServer]:
    server = _JwksServer({"keys": []})
    yield server
    server.httpd.shutdown()


def test_keys_from_file(tmp_path: Path) -> None:
    issuer = TestIssuer()
    path = issuer.write_jwks(tmp_path / "jwks.json")
    keys = IssuerKeys([TrustedIssuer(issuer=issuer.issuer, jwks_file=path)], "aud")
    trusted = keys.trusted[issuer.issuer]
    assert set(trusted.keys) == {"rsa-1", "ec-1"} and trusted.audience == "aud"


def test_keys_from_uri_and_rate_limited_refresh(jwks_server: _JwksServer) -> None:
    issuer = TestIssuer()
    jwks_server.document = issuer.jwks()
    keys = IssuerKeys([TrustedIssuer(issuer=issuer.issuer, jwks_uri=jwks_server.url)], "aud")
    assert jwks_server.hits == 1 and keys.any_keys()
    assert keys.refresh(issuer.issuer) is True
    for _ in range(50):  # an attacker inventing key ids cannot amplify into fetches
        assert keys.refresh(issuer.issuer) is False
    assert jwks_server.hits == 2


def test_unreachable_jwks_fails_closed() -> None:
    config = TrustedIssuer(issuer="https://x", jwks_uri="http://127.0.0.1:9/jwks.json")
    keys = IssuerKeys([config], "aud")
    assert not keys.any_keys()
    assert keys.trusted["https://x"].keys == {}  # known issuer, no key: refreshable, not open


def test_private_and_broken_keys_are_ignored() -> None:
    issuer = TestIssuer()
    document = issuer.jwks()
    document["keys"][0]["d"] = "private-exponent"
    document["keys"].append({"kty": "RSA", "kid": "broken", "n": "x"})
    document["keys"].append({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})
    assert set(keys_from_jwks(document)) == {"ec-1"}


def test_exactly_one_key_source_required(tmp_path: Path) -> None:
    assert TrustedIssuer(issuer="https://x").uses_discovery  # its URL alone: discovery
    with pytest.raises(ValueError):
        TrustedIssuer(issuer="x", discovery=False)
    with pytest.raises(ValueError):
        TrustedIssuer(issuer="x", jwks_uri="http://a", jwks_file=tmp_path / "f")


def test_start_up_outage_heals_without_restart(
    jwks_server: _JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.access.issuers

    monkeypatch.setattr(api.access.issuers, "NO_KEYS_RETRY_S", 0.0)
    issuer = TestIssuer()
    jwks_server.document, jwks_server.failing = issuer.jwks(), True
    keys = IssuerKeys([TrustedIssuer(issuer=issuer.issuer, jwks_uri=jwks_server.url)], "aud")
    assert not keys.any_keys() and not keys.refresh_all()
    jwks_server.failing = False
    assert keys.refresh_all() and keys.any_keys()
