"""Property: for random principals and queries over the demo data, no response (entries,
includes, reads) ever holds a resource the contract's policy forbids. The oracle below is
written from the contract's access-token and who-may-see-what rules alone, independently
of api/security."""

import functools
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data.synthetic.dataset import generate_dataset
from tests.support import TestIssuer

TYPES = ["Patient", "Observation", "Condition", "Encounter", "MedicationRequest", "CareTeam",
         "Practitioner"]  # fmt: skip
SENSITIVE = {"R", "V", "HIV", "PSY", "SUD", "ETH"}
QUERIES = [
    "/fhir/{t}?_count=50", "/fhir/Observation?category=laboratory&_count=50",
    "/fhir/Observation?_count=50&_include=Observation:patient",
    "/fhir/Patient?_count=30&_revinclude=Condition:patient",
    "/fhir/Encounter?_count=30&_include=Encounter:participant&_include=Encounter:patient",
    "/fhir/Condition?code=86406008", "/fhir/{t}?patient=pat-00002&_count=50",
]  # fmt: skip


@functools.cache
def care_teams() -> dict[str, set[str]]:
    """Practitioner reference -> patient ids of the active CareTeams listing it."""
    teams: dict[str, set[str]] = {}
    for res in generate_dataset():
        if res["resourceType"] == "CareTeam" and res["status"] == "active":
            patient = res["subject"]["reference"].split("/")[1]
            for part in res["participant"]:
                teams.setdefault(part["member"]["reference"], set()).add(patient)
    return teams


@functools.cache
def dataset() -> dict[tuple[str, str], dict[str, Any]]:
    return {(res["resourceType"], res["id"]): res for res in generate_dataset()}


def owner(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    ref = resource.get("subject", {}).get("reference", "")
    return ref.split("/")[1] if ref.startswith("Patient/") else ""


def allowed(who: dict[str, Any], resource: dict[str, Any]) -> bool:
    rtype = resource["resourceType"]
    if rtype not in who["types"]:
        return False
    labels = {s["code"] for s in resource.get("meta", {}).get("security", [])} - {"REDACTED"}
    if (labels & SENSITIVE) - set(who["clearance"]):
        return False
    patient = owner(resource)
    if not patient or who["context"] == "system":
        return True
    if who["context"] == "patient":
        return patient == who["patient"]
    if who["purpose"] == "ETREAT":
        return True
    return patient in care_teams().get(who["practitioner"], set())


principals = st.fixed_dictionaries({
    "context": st.sampled_from(["patient", "user", "system"]),
    "types": st.lists(st.sampled_from(TYPES), min_size=1, max_size=4, unique=True),
    "patient": st.sampled_from([f"pat-{n:05d}" for n in (1, 2, 3, 7, 10, 42)]),
    "practitioner": st.sampled_from([f"Practitioner/prac-{n:04d}" for n in (1, 2, 5, 9)]),
    "purpose": st.sampled_from(["TREAT", "ETREAT", "HPAYMT"]),
    "clearance": st.lists(st.sampled_from(sorted(SENSITIVE)), max_size=3, unique=True),
    "v2": st.booleans(),
})  # fmt: skip


def token_for(issuer: TestIssuer, who: dict[str, Any]) -> str:
    perm = "rs" if who["v2"] else "read"
    scope = " ".join(f"{who['context']}/{t}.{perm}" for t in who["types"])
    claims: dict[str, Any] = {"purpose_of_use": who["purpose"],
                              "sensitivity_clearance": who["clearance"]}  # fmt: skip
    if who["context"] == "patient":
        claims["patient"] = who["patient"]
    if who["context"] == "user":
        claims["fhirUser"] = who["practitioner"]
    return issuer.token(f"prop-{uuid.uuid4().hex[:8]}", scope, **claims)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(who=principals, query=st.sampled_from(QUERIES), rtype=st.sampled_from(TYPES))
def test_no_response_holds_a_forbidden_resource(
    client: httpx.Client, issuer: TestIssuer, who: dict[str, Any], query: str, rtype: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(issuer, who)}"}
    response = client.get(query.format(t=rtype), headers=headers)
    assert response.status_code in {200, 400, 403}, response.text  # 400: no such param
    if response.status_code != 200:
        return
    for entry in response.json().get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "OperationOutcome":
            continue
        assert allowed(who, resource), (who, entry["search"]["mode"], resource["id"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(who=principals, rtype=st.sampled_from(TYPES[:6]), patient=st.integers(1, 60))
def test_reads_answer_200_only_when_allowed(
    client: httpx.Client, issuer: TestIssuer, who: dict[str, Any], rtype: str, patient: int
) -> None:
    prefixes = {"Patient": "pat", "Observation": "obs", "Condition": "cond",
                "Encounter": "enc", "MedicationRequest": "medrx", "CareTeam": "ct"}  # fmt: skip
    suffix = "" if rtype == "Patient" else "-1"
    ids = {t: f"{p}-{patient:05d}{suffix}" for t, p in prefixes.items()}
    headers = {"Authorization": f"Bearer {token_for(issuer, who)}"}
    response = client.get(f"/fhir/{rtype}/{ids[rtype]}", headers=headers)
    known = dataset().get((rtype, ids[rtype]))
    if rtype not in who["types"]:
        assert response.status_code == 403
    elif known is not None and allowed(who, known):
        assert response.status_code == 200, (who, ids[rtype])  # no false denial either
    else:
        assert response.status_code == 404, (who, ids[rtype])
