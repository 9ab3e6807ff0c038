"""Alerts end to end (the contract's alert section): the real server detects bulk access,
denial bursts, break-glass and exports; alerts reach /audit/alerts and a signed webhook
within 15 s."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, TestIssuer, wait_for

SECRET = "webhook-test-secret"


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                owner.posts.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"

    def kinds(self) -> set[str]:
        return {json.loads(body)["kind"] for _, body in self.posts}


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[ServerProcess, TestIssuer, Receiver]]:
    issuer, receiver = fresh_issuer(request), Receiver()
    env = {
        "FHIR_EVIDENCE_ALERT_WEBHOOK_URL": receiver.url,
        "FHIR_EVIDENCE_ALERT_WEBHOOK_SECRET": SECRET,
        "FHIR_EVIDENCE_RATE_LIMIT_PER_S": "1000",
        "FHIR_EVIDENCE_RATE_LIMIT_BURST": "1000",
    }
    base: Path = tmp_path_factory.mktemp("alerts")
    server = ServerProcess(base / "data", issuer, extra_env=env).start()
    yield server, issuer, receiver
    server.terminate()
    receiver.httpd.shutdown()


def _alerts(server: ServerProcess, issuer: TestIssuer, kind: str) -> list[dict[str, Any]]:
    auditor = {"Authorization": f"Bearer {issuer.token('aud', 'system/AuditEvent.rs')}"}
    body = httpx.get(f"{server.base_url}/audit/alerts?kind={kind}", headers=auditor).json()
    return list(body["alerts"])


def test_bulk_access_spike_fires_by_100_distinct_patients(setup: Any) -> None:
    server, issuer, receiver = setup
    headers = {"Authorization": f"Bearer {issuer.token('bulk-reader', 'system/Patient.rs')}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        for n in range(1, 101):
            http.get(f"/fhir/Patient/pat-{n:05d}")
    alerts = wait_for(lambda: _alerts(server, issuer, "bulk_access_spike"), timeout=15)
    assert [a["principal"] for a in alerts] == ["bulk-reader"]  # one alert, not hundreds
    assert alerts[0]["request_ids"] and alerts[0]["severity"]
    assert wait_for(lambda: "bulk_access_spike" in receiver.kinds(), timeout=15)


def test_denied_burst_fires_by_20_denials(setup: Any) -> None:
    server, issuer, _ = setup
    headers = {"Authorization": f"Bearer {issuer.token('prober', 'system/Practitioner.rs')}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        for n in range(20):
            assert http.get(f"/fhir/Patient/pat-{n + 1:05d}").status_code == 403
    alerts = wait_for(lambda: _alerts(server, issuer, "denied_burst"), timeout=15)
    assert alerts[0]["principal"] == "prober"


def test_break_glass_and_export_always_alert(setup: Any) -> None:
    server, issuer, _ = setup
    glass = issuer.token("er-doc", "user/*.rs", fhirUser="Practitioner/prac-0002",
                         purpose_of_use="ETREAT")  # fmt: skip
    httpx.get(
        f"{server.base_url}/fhir/Patient/pat-00150", headers={"Authorization": f"Bearer {glass}"}
    )
    exporter = {"Authorization": f"Bearer {issuer.token('exp', 'system/Patient.rs export')}",
                "Prefer": "respond-async", "Accept": "application/fhir+json"}  # fmt: skip
    assert httpx.get(f"{server.base_url}/fhir/Patient/$export", headers=exporter).status_code == 202
    assert wait_for(lambda: _alerts(server, issuer, "break_glass"), timeout=15)
    assert wait_for(lambda: _alerts(server, issuer, "export"), timeout=15)


def test_webhook_posts_are_signed(setup: Any) -> None:
    _, _, receiver = setup
    assert wait_for(lambda: receiver.posts, timeout=15)
    for headers, body in receiver.posts:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        lowered = {k.lower(): v for k, v in headers.items()}
        assert lowered["x-signature"] == f"sha256={expected}"
        assert lowered["content-type"].startswith("application/json")


def test_alert_expands_into_its_evidence(setup: Any) -> None:
    server, issuer, _ = setup
    (alert,) = wait_for(lambda: _alerts(server, issuer, "denied_burst"), timeout=15)
    auditor = {"Authorization": f"Bearer {issuer.token('aud2', 'system/AuditEvent.rs')}"}
    detail = httpx.get(f"{server.base_url}/audit/alerts/{alert['id']}", headers=auditor).json()
    assert detail["evidence"] and all(e["decision"] == "deny" for e in detail["evidence"])


def test_webhook_outage_loses_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The webhook is down when the alert is raised; it arrives once the webhook is back."""
    import socket
    import time

    issuer = fresh_issuer(request)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"FHIR_EVIDENCE_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{port}/alerts",
           "FHIR_EVIDENCE_ALERT_WEBHOOK_SECRET": SECRET}  # fmt: skip
    server = ServerProcess(tmp_path / "data", issuer, extra_env=env).start()
    try:
        token = issuer.token("er-2", "user/*.rs", fhirUser="Practitioner/prac-0003",
                             purpose_of_use="ETREAT")  # fmt: skip
        httpx.get(f"{server.base_url}/fhir/Patient/pat-00120",
                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert wait_for(lambda: _alerts(server, issuer, "break_glass"), timeout=15)
        time.sleep(2)  # a few failed attempts against the closed port
        receiver = Receiver(port)  # the webhook comes back
        assert wait_for(lambda: "break_glass" in receiver.kinds(), timeout=40)
        receiver.httpd.shutdown()
    finally:
        server.terminate()
