"""Narrowed AuditEvent scopes are enforced on every auditor route and the FHIR AuditEvent
view (scope forms x routes): a route answers only rows the token's scopes reach, refuses
what it cannot confine; a token confined to one patient sees nothing of other patients."""

from typing import Any
from urllib.parse import quote

import pytest

from api.audit import balp
from tests.api.audit.conftest import AuditApp

MINE, OTHER = "pat-00027", "pat-00028"
AGENT_A, AGENT_B = "conf-agent-a", "conf-agent-b"
READ = "system/Patient.rs system/Observation.rs"

FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "system": ("system/AuditEvent.rs", {}),
    "system?agent": (f"system/AuditEvent.rs?agent={AGENT_A}", {}),
    "system?patient=Patient/": (f"system/AuditEvent.rs?patient=Patient/{MINE}", {}),
    "system?patient&agent": (f"system/AuditEvent.rs?patient={MINE}&agent={AGENT_A}", {}),
    "system?unsupported": ("system/AuditEvent.rs?outcome=0", {}),
    "user, Patient fhirUser": ("user/AuditEvent.rs", {"fhirUser": f"Patient/{MINE}"}),
    "user, Practitioner": ("user/AuditEvent.rs", {"fhirUser": "Practitioner/prac-0001"}),
    "user, RelatedPerson": ("user/AuditEvent.rs", {"fhirUser": "RelatedPerson/r1"}),
    "patient": ("patient/AuditEvent.rs", {"patient": MINE}),
    "patient?another": (f"patient/AuditEvent.rs?patient={OTHER}", {"patient": MINE}),
    "v1 system read": ("system/AuditEvent.read", {}),
}
UNCONSTRAINED = {"system", "user, Practitioner", "v1 system read"}
ROUTES = (
    "/audit/verify",
    "/audit/alerts",
    "/audit/checkpoints",
    "/audit/requests/{rid}",
    "/audit/requests/{rid}/proof",
    f"/audit/patients/{MINE}/accesses",
    f"/audit/patients/{OTHER}/accesses",
    f"/audit/patients/{MINE}/disclosures",
    f"/audit/patients/{OTHER}/disclosures",
    f"/audit/patients/{MINE}/accesses?principal={AGENT_B}",
    f"/audit/principals/{AGENT_A}/accesses",
    f"/audit/principals/{AGENT_B}/accesses",
    f"/audit/principals/accesses?sub={AGENT_A}",
    f"/audit/principals/{AGENT_A}/activity",
    f"/audit/principals/{AGENT_B}/activity",
    "/fhir/AuditEvent",
    f"/fhir/AuditEvent?patient={OTHER}",
    f"/fhir/AuditEvent?agent={AGENT_B}",
    f"/fhir/AuditEvent?entity=Patient/{OTHER}",
    "/fhir/AuditEvent/{both_part}",
    "/fhir/AuditEvent/{other_only}",
)
NEEDS_EVERY_ROW = ROUTES[:5]


@pytest.fixture(scope="module")
def seeded(audit_app: AuditApp) -> dict[str, Any]:
    """Agent A reads MINE and searches MINE and OTHER together; agent B reads both."""
    a = audit_app
    done = {
        "a_mine": a.get(f"/fhir/Patient/{MINE}", headers=a.headers(AGENT_A, READ)),
        "a_both": a.get(f"/fhir/Patient?_id={MINE},{OTHER}", headers=a.headers(AGENT_A, READ)),
        "b_mine": a.get(f"/fhir/Patient/{MINE}", headers=a.headers(AGENT_B, READ)),
        "b_other": a.get(f"/fhir/Patient/{OTHER}", headers=a.headers(AGENT_B, READ)),
    }
    assert all(r.status_code == 200 for r in done.values())
    a.settle()
    rids = {name: r.headers["x-request-id"] for name, r in done.items()}
    pseudonyms = {
        p: a.get(f"/audit/patients/{p}/accesses", headers=a.auditor).json()["patient_pseudonym"]
        for p in (MINE, OTHER)
    }
    both = a.evidence(rids["a_both"])
    parts = list(both["patient_pseudonyms"])
    other_part = f"{both['event_id']}.{parts.index(pseudonyms[OTHER]) + 1}"
    return {
        "rids": rids,
        "pseudonyms": pseudonyms,
        "both_part": f"{both['event_id']}.{parts.index(pseudonyms[MINE]) + 1}",
        "other_only": a.evidence(rids["b_other"])["event_id"],
        "other_part": other_part,
    }


def oracle(form: str, patients: set[str], agent: str, pseudonyms: dict[str, str]) -> bool:
    """May a token of this form read a row about `patients` (pseudonyms) by `agent`?"""
    mine = pseudonyms[MINE] in patients
    return {
        "system?agent": agent == AGENT_A,
        "system?patient=Patient/": mine,
        "system?patient&agent": mine and agent == AGENT_A,
        "user, Patient fhirUser": mine,
        "patient": mine,
    }.get(form, form in UNCONSTRAINED)


_TRUTH: dict[str, tuple[set[str], str]] = {}


def truth(a: AuditApp, request_id: str) -> tuple[set[str], str]:
    """(patients, agent) of a request, as the unconstrained auditor sees them."""
    if request_id not in _TRUTH:
        response = a.get(f"/audit/requests/{request_id}", headers=a.auditor)
        assert response.status_code == 200, response.text
        view = response.json()
        _TRUTH[request_id] = set(view["patient_pseudonyms"]), str(view["principal"]["sub"])
    return _TRUTH[request_id]


def returned_rows(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(request id, what was shown) of each row an answer holds."""
    rows = [*body.get("accesses", []), *body.get("disclosures", [])]
    found = [(str(r["request_id"]), r) for r in rows]
    resources = [e["resource"] for e in body.get("entry", [])]
    if body.get("resourceType") == "AuditEvent":
        resources = [body]
    for resource in resources:
        (rid,) = [e["what"]["identifier"]["value"] for e in resource["entity"]
                  if e["type"] == balp.TRANSACTION]  # fmt: skip
        found.append((rid, resource))
    return found


@pytest.mark.parametrize("form", FORMS)
def test_every_route_answers_only_what_the_scope_reaches(
    audit_app: AuditApp, seeded: dict[str, Any], form: str
) -> None:
    a = audit_app
    scope, claims = FORMS[form]
    headers = a.headers("conf-auditor", scope, **claims)
    for template in ROUTES:
        url = template.format(rid=seeded["rids"]["a_both"], both_part=seeded["both_part"],
                              other_only=seeded["other_only"])  # fmt: skip
        response = a.get(url, headers=headers)
        where = (form, url)
        assert response.status_code < 500, where
        if template in NEEDS_EVERY_ROW:  # a proof is 404 until a checkpoint covers it
            allowed = (200, 404) if template.endswith("/proof") else (200,)
            assert response.status_code in (allowed if form in UNCONSTRAINED else (403,)), where
            continue
        if response.status_code != 200:
            assert response.status_code in (403, 404), (where, response.text)
            assert response.json()["resourceType"] == "OperationOutcome"
            continue
        for rid, _shown in returned_rows(response.json()):
            patients, agent = truth(a, rid)
            assert oracle(form, patients, agent, seeded["pseudonyms"]), (where, rid)
    # what each form must still be able to read
    mine = a.get(f"/audit/patients/{MINE}/accesses", headers=headers)
    assert mine.status_code == (200 if form not in ("system?unsupported", "user, RelatedPerson",
                                                    "patient?another") else 403), form  # fmt: skip


def test_an_agent_scope_reads_its_agent_and_nothing_else(
    audit_app: AuditApp, seeded: dict[str, Any]
) -> None:
    a = audit_app
    headers = a.headers("conf-auditor", FORMS["system?agent"][0])
    rows = a.get(f"/audit/patients/{MINE}/accesses", headers=headers).json()["accesses"]
    assert {r["principal"]["sub"] for r in rows} == {AGENT_A}
    assert {seeded["rids"]["a_mine"], seeded["rids"]["a_both"]} <= {r["request_id"] for r in rows}
    assert a.get(f"/audit/principals/{AGENT_A}/activity", headers=headers).status_code == 200
    assert a.get(f"/audit/principals/{AGENT_B}/accesses", headers=headers).status_code == 403
    entries = a.get("/fhir/AuditEvent", headers=headers).json().get("entry", [])
    assert entries and all(
        truth(a, rid)[1] == AGENT_A for rid, _ in returned_rows({"entry": entries})
    )


@pytest.mark.parametrize("form", ["patient", "user, Patient fhirUser", "system?patient=Patient/"])
def test_a_patient_sees_nothing_of_the_other_patients(
    audit_app: AuditApp, seeded: dict[str, Any], form: str
) -> None:
    """The request that returned MINE and OTHER together shows MINE alone, everywhere."""
    a = audit_app
    scope, claims = FORMS[form]
    headers = a.headers("conf-patient", scope, **claims)
    other = seeded["pseudonyms"][OTHER]
    answers = [
        a.get(f"/audit/patients/{MINE}/accesses", headers=headers),
        a.get(f"/audit/patients/{MINE}/accesses?_format=csv", headers=headers),
        a.get(f"/audit/patients/{MINE}/accesses?_format=ndjson", headers=headers),
        a.get(f"/audit/patients/{MINE}/disclosures", headers=headers),
        a.get(f"/audit/principals/{AGENT_A}/accesses", headers=headers),
        a.get("/fhir/AuditEvent", headers=headers),
        a.get(f"/fhir/AuditEvent/{seeded['both_part']}", headers=headers),
    ]
    for answer in answers:
        assert answer.status_code == 200, (answer.url, answer.text)
        assert other not in answer.text, answer.url
    rows = answers[0].json()["accesses"]
    (both,) = [r for r in rows if r["request_id"] == seeded["rids"]["a_both"]]
    assert both["patient_pseudonyms"] == [seeded["pseudonyms"][MINE]]
    assert both["resource_pseudonyms"] == []
    refused = [
        f"/fhir/AuditEvent?entity=Patient/{OTHER}",
        f"/fhir/AuditEvent?entity=Observation/{quote('obs-00028-1')}",
        f"/fhir/AuditEvent?patient={OTHER}",
        f"/audit/patients/{OTHER}/accesses",
        f"/audit/patients/{OTHER}/disclosures",
        f"/audit/principals/{AGENT_A}/activity",
    ]
    for url in refused:
        assert a.get(url, headers=headers).status_code == 403, (form, url)
    hidden = a.get(f"/fhir/AuditEvent/{seeded['other_part']}", headers=headers)
    assert hidden.status_code == 404
