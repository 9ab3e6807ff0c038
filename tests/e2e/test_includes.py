"""_include/_revinclude never return what the caller could not read directly."""

import httpx

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.support import TestIssuer

SYSTEM = "system/*.rs"


def _by_mode(bundle: dict[str, object], mode: str) -> list[dict[str, object]]:
    entries = bundle.get("entry", [])
    return [e["resource"] for e in entries if e["search"]["mode"] == mode]  # type: ignore[index,union-attr]


def test_include_patient_once(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "inc-1", SYSTEM)
    url = "/fhir/Observation?patient=pat-00012&_count=10&_include=Observation:patient"
    bundle = client.get(url, headers=headers).json()
    assert len(_by_mode(bundle, "match")) == 10
    included = _by_mode(bundle, "include")
    assert [(r["resourceType"], r["id"]) for r in included] == [("Patient", "pat-00012")]


def test_include_needs_a_scope_for_the_included_type(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "inc-2", "system/Observation.rs")
    url = "/fhir/Observation?patient=pat-00012&_count=5&_include=Observation:patient"
    response = client.get(url, headers=headers)
    assert response.status_code == 200  # never a 403 for the whole page
    bundle = response.json()
    assert len(_by_mode(bundle, "match")) == 5 and _by_mode(bundle, "include") == []
    assert "pat-00012" not in str(_by_mode(bundle, "include"))
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["decision"] == "partial" and evidence["count_withheld"] >= 1
    assert "scope.insufficient" in evidence["reasons"]


def test_patient_token_includes_only_its_own(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "inc-3", "patient/*.rs", patient="pat-00014")
    url = "/fhir/Encounter?_count=50&_include=Encounter:patient&_include=Encounter:participant"
    bundle = client.get(url, headers=headers).json()
    patients = {r["id"] for r in _by_mode(bundle, "include") if r["resourceType"] == "Patient"}
    assert patients == {"pat-00014"}


def test_revinclude_honours_labels(client: httpx.Client, issuer: TestIssuer) -> None:
    plain = bearer(issuer, "inc-4", SYSTEM, sensitivity_clearance=["R"])
    cleared = bearer(issuer, "inc-5", SYSTEM, sensitivity_clearance=["HIV", "V", "R"])
    url = "/fhir/Patient?_id=pat-00002&_revinclude=Condition:patient"
    few = _by_mode(client.get(url, headers=plain).json(), "include")
    many = _by_mode(client.get(url, headers=cleared).json(), "include")
    hiv = "86406008"
    assert hiv not in str(few) and hiv in str(many)
    assert len(many) > len(few)


def test_care_team_includes_practitioners(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "inc-6", "user/*.rs", fhirUser="Practitioner/prac-0001")
    url = "/fhir/CareTeam?_count=5&_include=CareTeam:participant"
    bundle = client.get(url, headers=headers).json()
    included = _by_mode(bundle, "include")
    assert included and {r["resourceType"] for r in included} == {"Practitioner"}


def test_bad_include_is_400(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "inc-7", SYSTEM)
    for value in ("Observation:patient:iterate", "Observation:nope", "Patient:link"):
        assert_outcome(client.get(f"/fhir/Observation?_include={value}", headers=headers), 400)
