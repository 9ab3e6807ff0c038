"""Break-glass never becomes standing access: a write that grants access made under
break-glass alone is refused (403 `break_glass.grant_refused`), emergency writes that grant
nothing still work, and a principal adding itself to a care team is recorded
(`careteam.self_added`) and alerted (`self_granted_access`), through the real app."""

from typing import Any

import httpx

from tests.api.audit.conftest import AuditApp

PATIENT = "pat-00029"
STRANGER = "Practitioner/prac-bg-stranger"
FJ = {"Content-Type": "application/fhir+json"}


def glass(a: AuditApp, practitioner: str = STRANGER) -> dict[str, str]:
    return a.headers("dr-bg", "user/*.cruds", fhirUser=practitioner, purpose_of_use="ETREAT")


def team(patient: str, *members: str) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [{"member": {"reference": m}} for m in members],
    }


def reasons(a: AuditApp, response: httpx.Response) -> list[str]:
    return list(a.evidence(response.headers["x-request-id"])["reasons"])


def test_break_glass_cannot_grant_access(audit_app: AuditApp) -> None:
    a = audit_app
    for members in ((STRANGER,), ("Practitioner/prac-bg-friend",)):
        made = a.client.post("/fhir/CareTeam", json=team(PATIENT, *members),
                             headers={**glass(a), **FJ})  # fmt: skip
        assert made.status_code == 403, made.text
        assert made.json()["resourceType"] == "OperationOutcome"
        why = reasons(a, made)
        assert "break_glass.grant_refused" in why
        assert ("careteam.self_added" in why) == (members == (STRANGER,))
    ordinary = a.headers("dr-bg", "user/*.rs", fhirUser=STRANGER)
    assert a.get(f"/fhir/Patient/{PATIENT}", headers=ordinary).status_code == 404
    assert a.get(f"/fhir/CareTeam?participant={STRANGER}", headers=a.headers(
        "sys", "system/CareTeam.rs")).json().get("total") == 0  # fmt: skip


def test_break_glass_may_not_relabel_or_regroup(audit_app: AuditApp) -> None:
    a = audit_app
    system = a.headers("bg-sys", "system/*.cruds")
    note = {"resourceType": "Observation", "status": "final", "code": {"text": "bg"},
            "subject": {"reference": f"Patient/{PATIENT}"},
            "meta": {"security": [{"code": "PSY"}]}}  # fmt: skip
    created = a.client.post("/fhir/Observation", json=note, headers={**system, **FJ})
    assert created.status_code == 201
    oid = created.headers["location"].split("/Observation/")[1].split("/")[0]
    unlabelled = {**{k: v for k, v in note.items() if k != "meta"}, "id": oid}  # {}: not FHIR
    cleared = a.headers("dr-bg", "user/*.cruds", fhirUser=STRANGER, purpose_of_use="ETREAT",
                        sensitivity_clearance=["PSY"])  # fmt: skip
    assert a.get(f"/fhir/Observation/{oid}", headers=cleared).status_code == 200
    relabel = a.client.put(f"/fhir/Observation/{oid}", json=unlabelled,
                           headers={**cleared, **FJ})  # fmt: skip
    assert relabel.status_code == 403, relabel.text
    assert "break_glass.grant_refused" in reasons(a, relabel)
    same = a.client.put(f"/fhir/Observation/{oid}", json={**note, "id": oid, "status": "amended"},
                        headers={**cleared, **FJ})  # fmt: skip
    assert same.status_code == 200, same.text  # an update that keeps the labels is treatment
    group = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": f"Patient/{PATIENT}"}}]}  # fmt: skip
    grouped = a.client.post("/fhir/Group", json=group, headers={**glass(a), **FJ})
    assert grouped.status_code == 403
    assert "break_glass.grant_refused" in reasons(a, grouped)
    emergency = {k: v for k, v in note.items() if k != "meta"}
    written = a.client.post("/fhir/Observation", json=emergency, headers={**glass(a), **FJ})
    assert written.status_code == 201, written.text  # treating the patient still works
    assert "break_glass" in reasons(a, written)


def test_break_glass_is_not_needed_by_a_member(audit_app: AuditApp) -> None:
    """A practitioner already on the patient's team may grant with or without ETREAT."""
    a = audit_app
    system = a.headers("bg-sys", "system/*.cruds")
    member = "Practitioner/prac-bg-member"
    base = a.client.post("/fhir/CareTeam", json=team(PATIENT, member), headers={**system, **FJ})
    assert base.status_code == 201
    colleague = team(PATIENT, "Practitioner/prac-bg-colleague")
    added = a.client.post("/fhir/CareTeam", json=colleague, headers={**glass(a, member), **FJ})
    assert added.status_code == 201, added.text
    assert "break_glass.grant_refused" not in reasons(a, added)


def test_adding_oneself_is_recorded_and_alerted(audit_app: AuditApp) -> None:
    a = audit_app
    me = "Practitioner/prac-bg-self"
    headers = a.headers("dr-self", "system/CareTeam.cruds", fhirUser=me)
    made = a.client.post("/fhir/CareTeam", json=team(PATIENT, me), headers={**headers, **FJ})
    assert made.status_code == 201, made.text
    request_id = made.headers["x-request-id"]
    assert "careteam.self_added" in reasons(a, made)
    other = a.client.post("/fhir/CareTeam", json=team(PATIENT, "Practitioner/prac-bg-other"),
                          headers={**headers, **FJ})  # fmt: skip
    assert "careteam.self_added" not in reasons(a, other)

    def alerted() -> Any:
        found = a.get("/audit/alerts?kind=self_granted_access", headers=a.auditor).json()
        return [x for x in found["alerts"] if request_id in x["request_ids"]] or None

    (alert,) = a.wait(alerted)
    assert alert["principal"] == "dr-self" and alert["severity"] == "high"
