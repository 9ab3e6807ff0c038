"""GET/POST /fhir/AuditEvent and GET /fhir/AuditEvent/{id} through the real app: the same
evidence as FHIR R4 AuditEvents (validated with fhir.resources), searched by patient, agent,
date, entity and outcome, paged, and only for holders of an AuditEvent scope."""

from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from api.audit import balp
from tests.api.audit.conftest import AuditApp

BUNDLE = get_fhir_model_class("Bundle")
AUDIT_EVENT = get_fhir_model_class("AuditEvent")
SYSTEM = "system/*.rs"


def rid(response: Any) -> str:
    return str(response.headers["x-request-id"])


def search(app: AuditApp, headers: dict[str, str] | None = None, **params: str) -> list[dict]:
    """Every AuditEvent of a search, following next links; each Bundle validated."""
    found: list[dict[str, Any]] = []
    url: str | None = "/fhir/AuditEvent?" + urlencode(params)
    while url:
        response = app.get(url, headers=headers or app.auditor)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        bundle = response.json()
        BUNDLE.model_validate(bundle)
        found += [e["resource"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return found


def event_id(app: AuditApp, response: Any) -> str:
    return str(app.evidence(rid(response))["event_id"])


def request_ids(events: list[dict[str, Any]]) -> set[str]:
    return {
        e["what"]["identifier"]["value"]
        for ae in events
        for e in ae["entity"]
        if e["type"] == balp.TRANSACTION
    }


def patient_entities(resource: dict[str, Any]) -> list[str]:
    return [
        e["what"]["identifier"]["value"]
        for e in resource["entity"]
        if e.get("role") == balp.PATIENT_ROLE
    ]


@pytest.fixture(scope="module")
def activity(audit_app: AuditApp) -> dict[str, Any]:
    """One principal's allowed read, denied read, multi-patient search, write, export; one
    unauthenticated request."""
    a = audit_app
    sub = "ae-sys"
    reader = a.headers(sub, f"{SYSTEM} system/Observation.cruds export")
    no_scope = a.headers(sub, "system/Practitioner.rs")
    note = {"resourceType": "Observation", "status": "final", "code": {"text": "n"},
            "subject": {"reference": "Patient/pat-00021"}}  # fmt: skip
    done = {
        "read": a.get("/fhir/Patient/pat-00021", headers=reader),
        "denied": a.get("/fhir/Patient/pat-00021", headers=no_scope),
        "search": a.get("/fhir/Patient?_count=3", headers=reader),
        "write": a.client.post("/fhir/Observation", content=orjson.dumps(note),
                               headers={**reader, "Content-Type": "application/fhir+json"}),
        "export": a.get("/fhir/Patient/$export",
                        headers={**reader, "Prefer": "respond-async"}),
        "anonymous": a.get("/fhir/Patient/pat-00021"),
    }  # fmt: skip
    statuses = {name: r.status_code for name, r in done.items()}
    assert statuses == {"read": 200, "denied": 403, "search": 200, "write": 201,
                        "export": 202, "anonymous": 401}  # fmt: skip
    a.settle()
    return {"sub": sub, "responses": done, "pseudonym": a.runtime.services.auditing.pseudonymizer}


def test_every_kind_of_row_as_a_valid_auditevent(audit_app: AuditApp, activity: dict) -> None:
    a = audit_app
    expected = {  # name → (BALP action, outcome, subtype or type code, BALP profile claimed)
        "read": ("R", "0", "read", "PatientRead"),
        "denied": ("R", "4", "read", ""),
        "write": ("C", "0", "create", "PatientCreate"),
        "export": ("R", "0", "110106", ""),  # DICOM Export's action is R
        "anonymous": ("R", "4", "read", ""),
    }
    for name, (action, outcome, code, profile) in expected.items():
        response = a.get(f"/fhir/AuditEvent/{event_id(a, activity['responses'][name])}",
                         headers=a.auditor)  # fmt: skip
        assert response.status_code == 200, (name, response.text)
        resource = response.json()
        AUDIT_EVENT.model_validate(resource)
        assert (resource["action"], resource["outcome"]) == (action, outcome), name
        codes = {c["code"] for c in resource.get("subtype", [])} | {resource["type"]["code"]}
        assert code in codes, name
        rest = [p.rpartition(".")[2] for p in resource.get("meta", {}).get("profile", [])
                if "OAUTH" not in p]  # fmt: skip
        assert rest == ([profile] if profile else []), name
    denied = a.get(f"/fhir/AuditEvent/{event_id(a, activity['responses']['denied'])}",
                   headers=a.auditor).json()  # fmt: skip
    assert "scope.insufficient" in denied["outcomeDesc"]
    anonymous = a.get(f"/fhir/AuditEvent/{event_id(a, activity['responses']['anonymous'])}",
                      headers=a.auditor).json()  # fmt: skip
    assert "token.missing" in anonymous["outcomeDesc"]
    assert anonymous["agent"][0]["who"] == {"display": "unauthenticated"}


def test_a_search_over_several_patients_is_one_auditevent_each(
    audit_app: AuditApp, activity: dict
) -> None:
    a = audit_app
    response = activity["responses"]["search"]
    searched = {e["resource"]["id"] for e in response.json()["entry"]}
    found = [r for r in search(a, agent=activity["sub"]) if rid(response) in request_ids([r])]
    pseudonym = activity["pseudonym"]
    assert sorted(p for r in found for p in patient_entities(r)) == sorted(
        pseudonym.patient(p) for p in searched
    )
    assert all(len(patient_entities(r)) == 1 and r["action"] == "E" for r in found)
    base = event_id(a, response)
    assert sorted(r["id"] for r in found) == [f"{base}.{n}" for n in (1, 2, 3)]
    assert a.get(f"/fhir/AuditEvent/{base}.2", headers=a.auditor).status_code == 200
    assert a.get(f"/fhir/AuditEvent/{base}", headers=a.auditor).status_code == 404
    assert a.get(f"/fhir/AuditEvent/{base}.4", headers=a.auditor).status_code == 404


def test_search_parameters(audit_app: AuditApp, activity: dict) -> None:
    a = audit_app
    responses = activity["responses"]
    mine = search(a, agent=activity["sub"])
    assert request_ids(mine) == {rid(r) for n, r in responses.items() if n != "anonymous"}
    by_patient = search(a, patient="Patient/pat-00021", agent=activity["sub"])
    expected = {rid(responses[n]) for n in ("read", "write")}  # the 403 named no patient
    assert request_ids(by_patient) == expected
    own = activity["pseudonym"].patient("pat-00021")
    assert all(patient_entities(r) == [own] for r in by_patient)
    failures = search(a, agent=activity["sub"], outcome="4")
    assert request_ids(failures) == {rid(responses["denied"])}
    assert all(r["outcome"] == "0" for r in search(a, agent=activity["sub"], outcome="0"))
    entity = search(a, entity="Patient/pat-00021", agent=activity["sub"])
    assert rid(responses["read"]) in request_ids(entity)
    times = sorted(r["recorded"] for r in mine)
    window = search(a, agent=activity["sub"], date=f"ge{times[0]}")
    assert len(window) == len(mine)
    url = "/fhir/AuditEvent?" + urlencode(
        [("agent", activity["sub"]), ("date", f"ge{times[0]}"), ("date", f"lt{times[0]}")]
    )
    assert a.get(url, headers=a.auditor).json().get("entry") is None
    for bad in ("name=x", "date=ne2025", "outcome=5", "patient=Observation/1"):
        assert a.get(f"/fhir/AuditEvent?{bad}", headers=a.auditor).status_code == 400


def test_paging_and_post_search(audit_app: AuditApp, activity: dict) -> None:
    a = audit_app
    everything = search(a, agent=activity["sub"])
    for size in ("1", "2", "3"):
        paged = search(a, agent=activity["sub"], _count=size)
        assert [r["id"] for r in paged] == [r["id"] for r in everything]
    posted = a.client.post("/fhir/AuditEvent/_search", data={"agent": activity["sub"]},
                           headers=a.auditor)  # fmt: skip
    assert posted.status_code == 200
    assert [e["resource"]["id"] for e in posted.json()["entry"]] == [r["id"] for r in everything]
    first = a.get(f"/fhir/AuditEvent?agent={activity['sub']}&_count=1", headers=a.auditor)
    next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
    other = a.headers("auditor-other", "system/AuditEvent.rs")
    assert a.get(next_url, headers=other).status_code == 400  # the cursor is the auditor's


def test_reads_are_audited_as_auditevent_reads(audit_app: AuditApp, activity: dict) -> None:
    a = audit_app
    target = event_id(a, activity["responses"]["read"])
    response = a.get(f"/fhir/AuditEvent/{target}", headers=a.auditor)
    evidence = a.evidence(rid(response))
    assert (evidence["action"], evidence["resource_type"]) == ("read", "AuditEvent")
    assert evidence["count_returned"] == 1 and evidence["decision"] == "allow"
    searched = a.get("/fhir/AuditEvent?patient=pat-00021", headers=a.auditor)
    evidence = a.evidence(rid(searched))
    assert (evidence["action"], evidence["resource_type"]) == ("search", "AuditEvent")
    assert evidence["patient_pseudonyms"] == [activity["pseudonym"].patient("pat-00021")]
    assert sorted(evidence["query_params"]) == ["patient"]


def test_who_may_read_audit_events(audit_app: AuditApp, activity: dict) -> None:
    a = audit_app
    wildcard = a.headers("nosy", "system/*.cruds")
    assert a.get("/fhir/AuditEvent", headers=wildcard).status_code == 403
    assert a.get("/fhir/AuditEvent").status_code == 401
    own = a.headers("pt-21", "patient/AuditEvent.rs", patient="pat-00021")
    mine = search(a, own)
    assert mine and all(patient_entities(r) == [activity["pseudonym"].patient("pat-00021")]
                        for r in mine)  # fmt: skip
    assert a.get("/fhir/AuditEvent?patient=pat-00022", headers=own).status_code == 403
    foreign = event_id(a, activity["responses"]["write"])  # pat-00021: visible
    assert a.get(f"/fhir/AuditEvent/{foreign}", headers=own).status_code == 200
    other = a.headers("pt-22", "patient/AuditEvent.rs", patient="pat-00022")
    assert a.get(f"/fhir/AuditEvent/{foreign}", headers=other).status_code == 404
    assert a.client.put(f"/fhir/AuditEvent/{foreign}", headers=a.auditor).status_code == 405
    assert a.client.post("/fhir/AuditEvent", headers=a.auditor).status_code == 405


def test_capability_statement_lists_auditevent(audit_app: AuditApp) -> None:
    body = audit_app.get("/fhir/metadata").json()
    (entry,) = [r for r in body["rest"][0]["resource"] if r["type"] == "AuditEvent"]
    assert {p["name"] for p in entry["searchParam"]} == {
        "patient", "agent", "date", "entity", "outcome",
    }  # fmt: skip
    assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
