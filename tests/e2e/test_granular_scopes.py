"""Granular SMART v2 scopes (`?category=...`): enforced inside searches, reads and writes."""

import httpx

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.e2e.test_writes import NEW_OBSERVATION
from tests.support import TestIssuer

PATIENT = "pat-00030"
LAB_ONLY = "patient/Observation.rs?category=laboratory"


def _categories(bundle: dict[str, object]) -> set[str]:
    return {
        coding["code"]
        for entry in bundle.get("entry", [])  # type: ignore[union-attr]
        for category in entry["resource"]["category"]
        for coding in category["coding"]
    }


def test_search_returns_only_the_granted_category(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "lab-app", LAB_ONLY, patient=PATIENT)
    bundle = client.get("/fhir/Observation?_count=100", headers=headers).json()
    assert bundle["total"] > 0 and _categories(bundle) == {"laboratory"}
    full = bearer(issuer, "full-app", "patient/Observation.rs", patient=PATIENT)
    everything = client.get("/fhir/Observation?_count=100", headers=full).json()
    assert everything["total"] > bundle["total"]
    assert _categories(everything) > {"laboratory"}


def test_read_outside_the_constraint_looks_missing(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    full = bearer(issuer, "full-app", "patient/Observation.rs", patient=PATIENT)
    vitals = client.get("/fhir/Observation?category=vital-signs&_count=1", headers=full).json()
    labs = client.get("/fhir/Observation?category=laboratory&_count=1", headers=full).json()
    vital_id = vitals["entry"][0]["resource"]["id"]
    lab_id = labs["entry"][0]["resource"]["id"]
    headers = bearer(issuer, "lab-app", LAB_ONLY, patient=PATIENT)
    assert client.get(f"/fhir/Observation/{lab_id}", headers=headers).status_code == 200
    hidden = client.get(f"/fhir/Observation/{vital_id}", headers=headers)
    assert_outcome(hidden, 404)
    evidence = evidence_for(client, auditor_headers, hidden.headers["x-request-id"])
    assert "scope.insufficient" in evidence["reasons"] and evidence["decision"] == "deny"


def test_two_granular_scopes_add_up(client: httpx.Client, issuer: TestIssuer) -> None:
    scope = f"{LAB_ONLY} patient/Observation.rs?category=vital-signs"
    headers = bearer(issuer, "two-app", scope, patient=PATIENT)
    bundle = client.get("/fhir/Observation?_count=100", headers=headers).json()
    assert _categories(bundle) == {"laboratory", "vital-signs"}


def test_writes_must_meet_the_constraint(client: httpx.Client, issuer: TestIssuer) -> None:
    scope = "patient/Observation.cruds?category=vital-signs"
    headers = bearer(issuer, "vitals-app", scope, patient="pat-00020")
    assert (
        client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers).status_code == 201
    )
    lab = {**NEW_OBSERVATION, "category": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "laboratory"}]}]}  # fmt: skip
    assert_outcome(client.post("/fhir/Observation", json=lab, headers=headers), 403)
