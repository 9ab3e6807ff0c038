"""The real app in gateway mode in front of a hostile upstream of our own (a real HTTP
server on loopback): it ignores every narrowing parameter and answers every search with all
it holds, leaks its host and diagnostics in its errors, stalls, and fails. The guard must
show only what the policy shows, page with its own cursors (no upstream URL reaches the
client), and fail closed with 503/504 OperationOutcomes whose evidence says why.
(Against a real FHIR server, HAPI: tests/gateway.)"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.data.port import UpstreamTimeout, UpstreamUnavailable
from api.data.upstream import UpstreamConfig, UpstreamHttp
from tests.api.http.conftest import recorded_app
from tests.support import free_port

SECRET = "upstream-internal.example:8443 SQLState HAPI-0389"  # what must never leak
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory"}]}]  # fmt: skip
HIV = {"security": [{"code": "HIV"}]}


def _obs(rid: str, patient: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "category": LAB,
            "code": {"text": "x"}, "subject": {"reference": f"Patient/{patient}"},
            "meta": {"versionId": "3", **extra.pop("meta", {})}, **extra}  # fmt: skip


RESOURCES = [
    {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}},
    {"resourceType": "Patient", "id": "p2", "meta": {"versionId": "1"}},
    *(_obs(f"o1-{n}", "p1") for n in range(7)),
    _obs("o1-hiv", "p1", meta=HIV),
    *(_obs(f"o2-{n}", "p2") for n in range(3)),
    {"resourceType": "Observation", "id": "o-nobody", "status": "final", "code": {"text": "x"}},
]


class Hostile(BaseHTTPRequestHandler):
    mode = "ok"  # ok | slow | broken | drop

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "drop":
            self.connection.close()
            return
        if self.mode == "broken":
            issue = {"severity": "fatal", "code": "exception", "diagnostics": SECRET}
            outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
            return self._send(500, outcome)
        parts = url.path.strip("/").split("/")[1:]  # after "fhir"
        if parts == ["metadata"]:
            return self._send(200, {"resourceType": "CapabilityStatement"})
        if len(parts) == 2:
            found = [r for r in RESOURCES if (r["resourceType"], r["id"]) == tuple(parts)]
            return self._send(200, found[0]) if found else self._send(404, {"x": SECRET})
        return self._send(200, self._searchset(parts[0], parse_qs(url.query)))

    def _searchset(self, rtype: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """Everything of the type, whatever was asked, paged by _offset, with links
        naming the upstream."""
        every = [r for r in RESOURCES if r["resourceType"] == rtype]
        count, offset = int(query["_count"][0]), int(query["_offset"][0])
        page = every[offset : offset + count]
        link = [{"relation": "next", "url": f"http://{SECRET}/fhir?_getpages=x"}]
        entries = [{"fullUrl": f"http://{SECRET}/{r['id']}", "resource": r} for r in page]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(every),
                "link": link if offset + count < len(every) else [], "entry": entries}  # fmt: skip

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a stalled answer (the timeout test)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()


@pytest.fixture(scope="module")
def gateway(
    upstream: str, tmp_path_factory: pytest.TempPathFactory, chdb_client: object
) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("gateway")
    with recorded_app(tmp, chdb_client, upstream_fhir_url=upstream, upstream_timeout_s=0.5,
                      upstream_connect_timeout_s=0.5) as app:  # fmt: skip
        yield app


def _bearer(app: Any, scope: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {app[2].token('gw-user', scope, **claims)}"}


def _event(app: Any, response: httpx.Response) -> Any:
    rid = response.headers["x-request-id"]
    return next(e for e in app[3] if e.request_id == rid)


def _no_secret(response: httpx.Response, upstream: str) -> None:
    text = response.text
    for leak in (SECRET, upstream, urlsplit(upstream).netloc, "_getpages", "Traceback"):
        assert leak not in text, leak


def test_reads_decide_on_what_the_upstream_returned(gateway: Any, upstream: str) -> None:
    client = gateway[0]
    mine = _bearer(gateway, "patient/*.rs", patient="p1")
    response = client.get("/fhir/Observation/o1-0", headers=mine)
    assert response.status_code == 200 and response.headers["etag"] == 'W/"3"'
    for hidden in ("o2-0", "o1-hiv", "o-nobody", "missing"):  # other patient, label, nobody
        denied = client.get(f"/fhir/Observation/{hidden}", headers=mine)
        assert denied.status_code == 404, hidden
        _no_secret(denied, upstream)
    assert "label.withheld" in _event(gateway, client.get("/fhir/Observation/o1-hiv",
                                                         headers=mine)).reasons  # fmt: skip


def test_searches_recheck_every_entry_and_page_with_our_own_cursors(
    gateway: Any, upstream: str
) -> None:
    client = gateway[0]
    mine = _bearer(gateway, "patient/Observation.rs", patient="p1")
    url, seen = "/fhir/Observation?_count=3", []
    while url:
        response = client.get(url, headers=mine)
        assert response.status_code == 200, response.text
        _no_secret(response, upstream)
        bundle = response.json()
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        assert all(u.startswith("http://testserver/fhir/Observation?") for u in nexts)
        url = nexts[0].removeprefix("http://testserver") if nexts else ""
    assert sorted(seen) == sorted(f"o1-{n}" for n in range(7))  # once each, nothing else
    first = client.get("/fhir/Observation?_count=3", headers=mine)
    assert "total" not in first.json()  # not every match was judged on a first page of 3
    assert _event(gateway, first).decision in {"allow", "partial"}
    whole = client.get("/fhir/Observation?_count=50", headers=mine).json()
    assert whole["total"] == 7  # every match judged: the total is what the caller may see
    tampered = client.get("/fhir/Observation?_count=3&_cursor=AAAA", headers=mine)
    assert tampered.status_code == 400


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [("slow", 504, "upstream.timeout"), ("broken", 503, "upstream.unavailable"),
     ("drop", 503, "upstream.unavailable")],
)  # fmt: skip
def test_upstream_failures_fail_closed_with_their_reason(
    gateway: Any, upstream: str, mode: str, status: int, reason: str
) -> None:
    client = gateway[0]
    system = _bearer(gateway, "system/*.rs")
    Hostile.mode = mode
    try:
        for url in ("/fhir/Observation/o1-0", "/fhir/Observation?_count=5"):
            response = client.get(url, headers=system)
            assert response.status_code == status, response.text
            assert response.json()["resourceType"] == "OperationOutcome"
            _no_secret(response, upstream)
            event = _event(gateway, response)
            assert event.decision == "deny" and reason in event.reasons
            assert "dependency.failed" in event.reasons
    finally:
        Hostile.mode = "ok"


def test_a_closed_port_is_unavailable_and_names_nothing() -> None:
    port = free_port()
    http = UpstreamHttp(UpstreamConfig(f"http://127.0.0.1:{port}/fhir", connect_timeout_s=0.5))
    with pytest.raises(UpstreamUnavailable) as caught:
        http.get("Patient/p1")
    assert not isinstance(caught.value, UpstreamTimeout)
    assert str(port) not in str(caught.value) and "127.0.0.1" not in str(caught.value)
    http.close()
