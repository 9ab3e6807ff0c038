"""Every route of the app, allowed and refused, plus unknown routes, other methods (405),
bodies too large (413), invalid parameters and failures: each request yields exactly one
event, whose verdict was recorded explicitly (never `decision.missing`), a deny exactly when
the status is an error. And a route that forgets its verdict is caught."""

import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import Request
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.data.port import RepositoryUnavailable
from evidence.core import AccessEvent, EvidenceError
from tests.api.http.conftest import BASE, Walk, app_routes

MISSING = "decision.missing"
FJ = {"Content-Type": "application/fhir+json"}
OBS = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
       "subject": {"reference": "Patient/pat-00001"}}  # fmt: skip


def public_and_odd(w: Walk) -> None:
    for url in ("/fhir/metadata", "/fhir/.well-known/smart-configuration", "/metrics",
                "/openapi.json", "/dev-issuer/jwks.json", "/console", "/console/",
                "/console/app.js", "/console/nope.txt",
                "/.well-known/fhir-evidence/checkpoint-keys", "/nope"):  # fmt: skip
        w.go("GET", url)
    w.go("POST", "/console/demo-token")
    w.go("POST", "/nope/x", content=b"{}")
    for method, url in (("DELETE", "/fhir/metadata"), ("POST", "/audit/verify"),
                        ("HEAD", "/fhir/metadata"), ("OPTIONS", "/fhir/Patient"),
                        ("PATCH", "/fhir/Patient/pat-00001")):  # fmt: skip
        w.go(method, url)


def fhir_reads_and_searches(w: Walk) -> None:
    system = w.token("sys", "system/*.rs")
    patient = w.token("p", "patient/*.rs", patient="pat-00001")
    prac = w.token("prac", "user/*.rs", fhirUser="Practitioner/prac-0015")
    for url in ("/fhir/Unknown/x", "/fhir/Unknown", "/fhir/Unknown/x/_history/1"):
        w.go("GET", url, headers=system)
    w.go("GET", "/fhir/Patient/pat-00001")  # no token
    w.go("GET", "/fhir/Patient/pat-00001", headers={"Authorization": "Bearer a.b.c"})
    w.go("GET", "/fhir/Patient?access_token=x", headers=system)
    w.go("POST", "/fhir/Patient/_search", data={"access_token": "x"})
    for url in ("/fhir/Patient/pat-00001", "/fhir/Patient/pat-99999", "/fhir/Patient/bad id!",
                "/fhir/Observation/obs-00002-8", "/fhir/Patient/pat-00001/_history/1",
                "/fhir/Patient/pat-00001/_history/9", "/fhir/Observation?_count=2",
                "/fhir/Observation?bogus=1", "/fhir/Observation?_cursor=zz",
                "/fhir/Patient?_id=pat-00002&_revinclude=Condition:patient"):  # fmt: skip
        w.go("GET", url, headers=system)
    for url in ("/fhir/Patient/pat-00002", "/fhir/Condition?patient=pat-00002",
                "/fhir/Encounter?_include=Encounter:participant&_count=2"):  # fmt: skip
        w.go("GET", url, headers=patient)
    w.go("GET", "/fhir/Observation?patient=pat-00002&_include=Observation:patient", headers=prac)
    w.go("POST", "/fhir/Patient/_search", data={"_count": "2"}, headers=system)
    w.go("POST", "/fhir/Patient/_search", data={"zzz": "2"}, headers=system)
    w.go("GET", "/fhir/Condition/cond-00001-1", headers=w.token("o", "patient/Observation.rs",
                                                                patient="pat-00001"))  # fmt: skip


def unsupported_interactions(w: Walk) -> None:
    """api/fhir/unsupported.py: 501 with a token, 401 without, 404 for an unserved type."""
    system = w.token("sys", "system/*.cruds")
    for method, url in (("POST", "/fhir"), ("GET", "/fhir"), ("GET", "/fhir/_history"),
                        ("GET", "/fhir/Patient/_history"), ("GET", "/fhir/Patient/x/_history"),
                        ("GET", "/fhir/Patient/pat-00001/Observation"), ("PATCH", "/fhir/Patient"),
                        ("PUT", "/fhir/Patient"), ("DELETE", "/fhir/Patient")):  # fmt: skip
        w.go(method, url, headers=system, json={})
    w.go("PATCH", "/fhir/Patient/pat-00001", headers=system, json={})
    w.go("GET", "/fhir/Nope/x/_history", headers=system)
    w.go("POST", "/fhir", json={})


def fhir_writes(w: Walk) -> None:
    writer, reader = w.token("w", "system/*.cruds"), w.token("r", "system/*.rs")
    own = w.token("pw", "patient/*.cruds", patient="pat-00001")
    created = w.go("POST", "/fhir/Observation", json=OBS, headers={**writer, **FJ})
    new_id = created.json()["id"]
    w.go("POST", "/fhir/Observation", json=OBS, headers={**reader, **FJ})
    w.go("POST", "/fhir/Unknown", json=OBS, headers={**writer, **FJ})
    w.go("POST", "/fhir/Observation", content=b"{x", headers={**writer, **FJ})
    w.go("POST", "/fhir/Observation", content=b"{}", headers={**writer, "Content-Type": "text/x"})
    w.go("POST", "/fhir/Observation", json={"resourceType": "Observation", "status": 1},
         headers={**writer, **FJ})  # fmt: skip
    outside = {**OBS, "subject": {"reference": "Patient/pat-00002"}}
    w.go("POST", "/fhir/Observation", json=outside, headers={**own, **FJ})
    w.go("POST", "/fhir/Observation", content=b"x" * 1_100_000, headers={**writer, **FJ})
    w.go("POST", "/fhir/Observation", content=iter([b"x" * 600_000] * 2), headers={**writer, **FJ})
    w.go("PUT", f"/fhir/Observation/{new_id}", json={**OBS, "id": new_id}, headers={**writer, **FJ})
    w.go("PUT", "/fhir/Observation/other", json={**OBS, "id": new_id}, headers={**writer, **FJ})
    hidden = {**OBS, "id": "obs-00002-1"}
    w.go("PUT", "/fhir/Observation/obs-00002-1", json=hidden, headers={**own, **FJ})
    w.go("DELETE", "/fhir/Observation/obs-00002-1", headers=own)
    w.go("DELETE", "/fhir/Observation/nope-1", headers=writer)
    w.go("DELETE", f"/fhir/Observation/{new_id}", headers=writer)
    w.go("DELETE", f"/fhir/Observation/{new_id}", headers=reader)


def exports(w: Walk) -> None:
    exporter, other = w.token("ex", "system/*.rs export"), w.token("sys", "system/*.rs")
    prefer = {"Prefer": "respond-async"}
    w.go("GET", "/fhir/Patient/$export", headers=exporter)
    w.go("GET", "/fhir/Patient/$export", headers={**other, **prefer})
    w.go("GET", "/fhir/Group/g-none/$export", headers={**exporter, **prefer})
    kicked = w.go("GET", "/fhir/Patient/$export?_type=Patient", headers={**exporter, **prefer})
    status = kicked.headers["content-location"].replace(BASE, "")
    manifest: dict[str, Any] = {}
    for _ in range(100):
        polled = w.go("GET", status, headers=exporter)
        if polled.status_code == 200:
            manifest = polled.json()
            break
        time.sleep(0.05)
    for item in manifest.get("output", []):
        w.go("GET", item["url"].replace(BASE, ""), headers=exporter)
    job = status.rsplit("/", 1)[-1]
    w.go("GET", f"/fhir/$export-file/{job}/Nope.ndjson", headers=exporter)
    w.go("GET", status, headers=other)
    w.go("DELETE", status, headers=other)
    w.go("DELETE", status, headers=exporter)


def auditors(w: Walk) -> None:
    assert w.runtime.processor is not None and w.runtime.processor.drain(10.0)
    assert w.runtime.checkpoints is not None
    w.runtime.checkpoints.checkpointer.run_once(time.time_ns() // 1000)
    auditor, actor = w.token("a", "system/AuditEvent.rs"), w.token("b", "system/AuditEvent.rus")
    own = w.token("pa", "patient/AuditEvent.rs", patient="pat-00001")
    request_id = w.seen[0][1].request_id
    w.runtime.store.upsert_alerts([{
        "alert_id": "al-walk", "kind": "export", "severity": "medium", "principal": "x",
        "first_seen_us": time.time_ns() // 1000, "last_seen_us": time.time_ns() // 1000,
        "window_start_us": time.time_ns() // 1000, "window_s": 3600, "counts": "{}",
        "rule_version": "1", "request_ids": [request_id], "summary": "walk",
    }])  # fmt: skip
    for url in ("/audit/patients/pat-00001/accesses", "/audit/patients/pat-00001/accesses?"
                "_format=csv", "/audit/patients/pat-00001/accesses?decision=maybe",
                "/audit/principals/sys/accesses?_count=1", "/audit/principals/sys/accesses?"
                "_cursor=zz", "/audit/principals/sys/activity", "/audit/principals/sys/activity?"
                "since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z",
                "/audit/patients/pat-00001/disclosures", "/audit/patients/pat-00001/"
                "disclosures?_format=ndjson", f"/audit/requests/{request_id}",
                f"/audit/requests/{uuid.uuid4().hex}", f"/audit/requests/{request_id}/proof",
                f"/audit/requests/{uuid.uuid4().hex}/proof", "/audit/verify", "/audit/alerts",
                "/audit/alerts?status=nah", "/audit/alerts/al-walk", "/audit/alerts/nope",
                "/audit/checkpoints", "/audit/checkpoints/consistency?producer=x",
                "/audit/checkpoints/consistency?producer=x&first=1&second=2",
                "/fhir/AuditEvent?_count=2", "/fhir/AuditEvent?nope=1",
                "/fhir/AuditEvent/nope", "/audit/principals/accesses?sub=a%2F..",
                "/audit/principals/accesses", "/audit/principals/activity?sub=%2E%2E"):  # fmt: skip
        w.go("GET", url, headers=auditor)
    for url in (
        "/audit/patients/pat-00001/accesses",
        "/audit/patients/pat-00002/disclosures",
        "/audit/principals/sys/accesses",
        "/fhir/AuditEvent?patient=pat-00002",
    ):
        w.go("GET", url, headers=own)
    w.go("GET", "/audit/verify", headers=w.token("s", "system/*.rs"))
    w.go("GET", "/audit/verify")
    entry = w.go("GET", "/fhir/AuditEvent?_count=1", headers=auditor).json()["entry"][0]
    w.go("GET", f"/fhir/AuditEvent/{entry['resource']['id']}", headers=auditor)
    w.go("POST", "/fhir/AuditEvent/_search", data={"_count": "1"}, headers=auditor)
    w.go("POST", "/fhir/AuditEvent/_search", data={"access_token": "x"})
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        w.go(method, "/fhir/AuditEvent", headers=auditor)
        w.go(method, "/fhir/AuditEvent/x", headers=auditor)
    for action, body in (("acknowledge", {"reason": "seen"}), ("suppress", {"reason": "ok"})):
        w.go("POST", f"/audit/alerts/al-walk/{action}", json=body, headers=actor)
        w.go("POST", f"/audit/alerts/nope/{action}", json=body, headers=actor)
        w.go("POST", f"/audit/alerts/al-walk/{action}", json=body, headers=auditor)
    w.go("POST", "/audit/alerts/al-walk/acknowledge", content=b"[1]", headers=actor)


def failures(w: Walk, monkeypatch: pytest.MonkeyPatch) -> None:
    data = type(w.runtime.services.fhir.data)
    system = w.token("sys", "system/*.rs")

    def unavailable(*_: Any) -> Any:
        raise RepositoryUnavailable("down")

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    def store_down(*_: Any) -> Any:
        raise EvidenceError("down")

    for failure in (unavailable, broken):
        monkeypatch.setattr(data, "read", failure)
        w.go("GET", "/fhir/Patient/pat-00001", headers=system)
    monkeypatch.undo()
    monkeypatch.setattr(type(w.runtime.services.auditing.evidence), "find_accesses", store_down)
    w.go("GET", "/audit/principals/sys/accesses", headers=w.token("a", "system/AuditEvent.rs"))
    monkeypatch.undo()


def test_every_request_records_its_verdict(walk: Walk, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = (public_and_odd, fhir_reads_and_searches, unsupported_interactions, fhir_writes,
             exports, auditors)  # fmt: skip
    for part in parts:
        part(walk)
    failures(walk, monkeypatch)
    for response, event in walk.seen:
        assert MISSING not in event.reasons, (event.route, event.method, event.status)
        assert event.status == response.status_code
        assert (event.decision == "deny") == (event.status >= 400), (event.route, event.status)
        assert event.reasons or event.decision == "allow"
    statuses = {response.status_code for response, _ in walk.seen}
    assert {200, 201, 202, 204, 400, 401, 403, 404, 405, 413, 415, 422, 500, 501, 503} <= statuses
    routes = {(r.path, m) for r in app_routes(walk.client.app.routes) for m in r.methods or ()}
    routes = {(path, method) for path, method in routes if method != "HEAD"}
    assert len(routes) > 40
    asked = {(_route(response, event), event.method) for response, event in walk.seen}
    assert not routes - asked, sorted(routes - asked)  # every route of the app was asked


def _route(response: httpx.Response, event: AccessEvent) -> str:
    """The route asked: its template, or its path for a plain Starlette route (/openapi.json,
    recorded as "unmatched" like any route FastAPI does not annotate)."""
    return event.route if event.route != "unmatched" else response.request.url.path


def test_a_route_that_forgets_its_verdict_is_recorded_as_a_logged_deny(walk: Walk) -> None:
    app = create_app(walk.runtime)

    async def forgetful(request: Request) -> Any:
        return {"served": True}

    app.add_api_route("/forgetful", forgetful)
    response = TestClient(app).get("/forgetful")
    [event] = [e for e in walk.events if e.request_id == response.headers["x-request-id"]]
    assert response.status_code == 200
    assert event.decision == "deny" and event.reasons == (MISSING,)
