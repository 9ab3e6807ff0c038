"""Acknowledging and suppressing alerts through the real app: who may, what is refused, the
status in /audit/alerts, the action in the evidence, and the detector muted by a suppression."""

import time
from typing import Any

import pytest

from api.audit.views import iso_from_us
from evidence.core.alert_actions import action_digest, parse_action_marker
from evidence.store import alert_actions
from tests.api.audit.conftest import AuditApp

WRITER = "system/AuditEvent.rus"
NOW_US = int(time.time() * 1_000_000)


def stored_alert(a: AuditApp, alert_id: str, principal: str = "dr-stored", **kw: Any) -> str:
    row = {
        "alert_id": alert_id, "kind": "export", "severity": "medium", "principal": principal,
        "first_seen_us": NOW_US, "last_seen_us": NOW_US, "window_start_us": NOW_US,
        "window_s": 3600, "counts": '{"events": 1}', "rule_version": "1",
        "request_ids": [], "summary": "an export",
    }  # fmt: skip
    a.runtime.store.upsert_alerts([{**row, **kw}])
    return alert_id


def post(a: AuditApp, alert_id: str, action: str, body: Any, scope: str = WRITER) -> Any:
    headers = a.headers("auditor-acts", scope)
    return a.client.post(f"/audit/alerts/{alert_id}/{action}", headers=headers, json=body)


def alerts(a: AuditApp, query: str) -> list[dict[str, Any]]:
    response = a.get(f"/audit/alerts?{query}", headers=a.auditor)
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])


@pytest.mark.parametrize(
    ("scope", "claims"),
    [("system/AuditEvent.rs", {}), ("user/Patient.cruds", {}),
     ("patient/AuditEvent.u", {"patient": "pat-00001"})],
)  # fmt: skip
def test_acting_needs_audit_event_write_permission(
    audit_app: AuditApp, scope: str, claims: dict[str, str]
) -> None:
    a = audit_app
    alert_id = stored_alert(a, "al-perm")
    headers = a.headers("auditor-ro", scope, **claims)
    response = a.client.post(f"/audit/alerts/{alert_id}/acknowledge", headers=headers,
                             json={"reason": "seen"})  # fmt: skip
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
    assert alert_actions.actions(a.runtime.store, alert_id) == []


@pytest.mark.parametrize("scope", ["system/AuditEvent.u", "user/AuditEvent.cu",
                                   "system/AuditEvent.write"])  # fmt: skip
def test_write_scopes_v1_and_v2(audit_app: AuditApp, scope: str) -> None:
    a = audit_app
    alert_id = stored_alert(a, f"al-scope-{scope.replace('/', '-')}")
    assert post(a, alert_id, "acknowledge", {"reason": "seen"}, scope).status_code == 200


def test_unknown_alert_is_404(audit_app: AuditApp) -> None:
    response = post(audit_app, "no-such-alert", "suppress", {"reason": "noise"})
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("acknowledge", {}),
        ("acknowledge", {"reason": ""}),
        ("acknowledge", {"reason": "   "}),
        ("acknowledge", {"reason": "x" * 501}),
        ("acknowledge", {"reason": "bell \x07"}),
        ("acknowledge", {"reason": 5}),
        ("acknowledge", {"reason": "ok", "until": "2999-01-01T00:00:00Z"}),
        ("acknowledge", {"reason": "ok", "note": "typo"}),
        ("acknowledge", ["reason"]),
        ("suppress", {"reason": "ok", "until": "tomorrow"}),
        ("suppress", {"reason": "ok", "until": "2001-01-01T00:00:00Z"}),
        ("suppress", {"reason": "ok", "until": "2999-01-01T00:00:00Z"}),
        ("suppress", {"reason": "ok", "until": 1_900_000_000}),
    ],
)
def test_bad_bodies_are_422(audit_app: AuditApp, action: str, body: Any) -> None:
    a = audit_app
    alert_id = stored_alert(a, "al-body")
    response = post(a, alert_id, action, body)
    assert response.status_code == 422, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert alert_actions.actions(a.runtime.store, alert_id) == []


def test_a_body_that_is_not_json_is_422(audit_app: AuditApp) -> None:
    a = audit_app
    alert_id = stored_alert(a, "al-raw")
    headers = {**a.headers("auditor-acts", WRITER), "content-type": "application/json"}
    response = a.client.post(f"/audit/alerts/{alert_id}/acknowledge", headers=headers,
                             content=b"reason=seen")  # fmt: skip
    assert response.status_code == 422


def test_an_ended_episode_needs_an_explicit_until(audit_app: AuditApp) -> None:
    a = audit_app
    alert_id = stored_alert(a, "al-old", window_start_us=NOW_US - 7200 * 1_000_000)
    assert post(a, alert_id, "suppress", {"reason": "old noise"}).status_code == 422
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    response = post(a, alert_id, "suppress", {"reason": "old noise", "until": until})
    assert response.status_code == 200 and response.json()["status"] == "suppressed"
    assert response.json()["last_action"]["until"].startswith(until[:19])


def test_status_in_listing_and_detail(audit_app: AuditApp) -> None:
    a = audit_app
    ack, sup, untouched = (stored_alert(a, f"al-st-{n}", principal="dr-status") for n in range(3))
    response = post(a, ack, "acknowledge", {"reason": "known maintenance\nticket 42"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == ack and body["status"] == "acknowledged"
    assert body["last_action"]["by"] == "auditor-acts"
    assert body["last_action"]["request_id"] == response.headers["x-request-id"]
    assert post(a, sup, "suppress", {"reason": "noisy"}).json()["status"] == "suppressed"
    by_status = {s: {al["id"] for al in alerts(a, f"principal=dr-status&status={s}")}
                 for s in ("open", "acknowledged", "suppressed")}  # fmt: skip
    assert by_status == {"open": {untouched}, "acknowledged": {ack}, "suppressed": {sup}}
    detail = a.get(f"/audit/alerts/{sup}", headers=a.auditor).json()
    assert detail["status"] == "suppressed" and len(detail["actions"]) == 1
    assert detail["last_action"]["until"] == iso_from_us(NOW_US + 3600 * 1_000_000)  # its end
    assert a.get("/audit/alerts?status=closed", headers=a.auditor).status_code == 400


def test_the_action_is_chained_evidence_of_its_request(audit_app: AuditApp) -> None:
    a = audit_app
    alert_id = stored_alert(a, "al-evidence")
    response = post(a, alert_id, "acknowledge", {"reason": "reviewed with the ward"})
    request_id = response.headers["x-request-id"]
    body = a.evidence(request_id)
    actions = {e["action"]: e for e in body["events"]}
    assert set(actions) == {"audit.alert.acknowledge", "alert.acknowledge"}
    event = actions["alert.acknowledge"]
    assert event["principal"]["sub"] == "auditor-acts" and event["decision"] == "allow"
    assert "reviewed" not in str(body)  # the reason is in the record, not in the chain
    [record] = alert_actions.actions(a.runtime.store, alert_id)
    assert parse_action_marker(event["policy_version"]) == (alert_id, action_digest(record))
    assert record.reason == "reviewed with the ward" and record.request_id == request_id
    report = a.get("/audit/verify", headers=a.auditor).json()
    assert report["intact"], report


def burst(a: AuditApp, sub: str, count: int) -> None:
    """`count` denied reads (no Patient scope) by `sub`, all in evidence afterwards."""
    headers = a.headers(sub, "user/Observation.rs")
    for n in range(count):
        assert a.get(f"/fhir/Patient/pat-{n % 30 + 1:05d}", headers=headers).status_code == 403
    a.settle()


def burst_alert(a: AuditApp, sub: str) -> dict[str, Any]:
    [alert] = a.wait(lambda: alerts(a, f"kind=denied_burst&principal={sub}"))
    return alert


def test_a_detected_alert_acknowledged_is_in_the_evidence(audit_app: AuditApp) -> None:
    a = audit_app
    burst(a, "dr-burst-ack", 20)
    alert = burst_alert(a, "dr-burst-ack")
    assert alert["status"] == "open" and alert["last_action"] is None
    response = post(a, alert["id"], "acknowledge", {"reason": "pen test, ticket 7"})
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    events = a.evidence(response.headers["x-request-id"])["events"]
    [event] = [e for e in events if e["action"] == "alert.acknowledge"]
    assert parse_action_marker(event["policy_version"])[0] == alert["id"]  # type: ignore[index]
    assert [al["id"] for al in alerts(a, "status=acknowledged&principal=dr-burst-ack")] == [
        alert["id"]
    ]
    burst(a, "dr-burst-ack", 5)  # an acknowledged alert still grows
    assert burst_alert(a, "dr-burst-ack")["counts"]["denials_1m"] == 25


def test_a_suppression_mutes_the_detector(audit_app: AuditApp) -> None:
    a = audit_app
    burst(a, "dr-burst-mute", 20)
    alert = burst_alert(a, "dr-burst-mute")
    assert post(a, alert["id"], "suppress", {"reason": "known scanner"}).status_code == 200
    burst(a, "dr-burst-mute", 10)
    burst(a, "dr-burst-loud", 20)  # others are still watched
    burst_alert(a, "dr-burst-loud")
    [muted] = alerts(a, "kind=denied_burst&principal=dr-burst-mute")
    assert muted["last_seen"] == alert["last_seen"] and muted["counts"] == alert["counts"]
    assert muted["status"] == "suppressed"


def test_severity_filter(audit_app: AuditApp) -> None:
    a = audit_app
    high = stored_alert(a, "al-sev-high", principal="dr-sev", severity="high")
    medium = stored_alert(a, "al-sev-medium", principal="dr-sev")
    assert {al["id"] for al in alerts(a, "principal=dr-sev&severity=high")} == {high}
    assert {al["id"] for al in alerts(a, "principal=dr-sev")} == {high, medium}
    assert alerts(a, "principal=dr-sev&severity=critical") == []
    assert a.get("/audit/alerts?severity=urgent", headers=a.auditor).status_code == 400
