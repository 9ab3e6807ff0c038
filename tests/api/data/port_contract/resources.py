"""Small FHIR resources for the contract suite, shaped like the API's own data."""

from typing import Any

from api.data.port import FhirData
from api.data.query import Criterion
from api.fhir.search import parse_search
from api.security.access import PatientReach, Reach

NOW = "2026-03-01T12:00:00Z"
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
EVERYONE = PatientReach(Reach.ALL)
Resource = dict[str, Any]


def labelled(resource: Resource, *labels: str) -> Resource:
    return {**resource, "meta": {"security": [{"code": code} for code in labels]}}


def patient(rid: str, family: str = "", gender: str = "", birth: str = "") -> Resource:
    body: Resource = {"resourceType": "Patient", "id": rid}
    if family:
        body["name"] = [{"family": family, "given": ["Ann"]}]
    if gender:
        body["gender"] = gender
    if birth:
        body["birthDate"] = birth
    return body


def practitioner(rid: str, family: str = "House") -> Resource:
    return {"resourceType": "Practitioner", "id": rid, "name": [{"family": family}]}


def observation(rid: str, patient_id: str, **fields: Any) -> Resource:
    """`category`, `code` (LOINC), `effective`, `value` with `unit` (UCUM), `encounter`."""
    body: Resource = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if "category" in fields:
        body["category"] = [{"coding": [{"system": CATEGORY, "code": fields["category"]}]}]
    if "code" in fields:
        body["code"] = {"coding": [{"system": LOINC, "code": fields["code"]}]}
    if "effective" in fields:
        body["effectiveDateTime"] = fields["effective"]
    if "value" in fields:
        unit = fields.get("unit", "kg")
        body["valueQuantity"] = {"value": fields["value"], "system": UCUM, "code": unit}
    if "encounter" in fields:
        body["encounter"] = {"reference": f"Encounter/{fields['encounter']}"}
    return body


def encounter(rid: str, patient_id: str, start: str = "", end: str = "") -> Resource:
    body: Resource = {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    period = {key: value for key, value in (("start", start), ("end", end)) if value}
    if period:
        body["period"] = period
    return body


def care_team(rid: str, patient_id: str, *members: str, status: str = "active") -> Resource:
    return {
        "resourceType": "CareTeam",
        "id": rid,
        "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "participant": [{"member": {"reference": member}} for member in members],
    }


def criteria(resource_type: str, *params: tuple[str, str]) -> list[Criterion]:
    return parse_search(resource_type, list(params)).criteria


def ids_found(store: FhirData, resource_type: str, *params: tuple[str, str]) -> list[str]:
    """Ids of every match, unrestricted by policy, in the store's order."""
    found = criteria(resource_type, *params)
    page = store.search(resource_type, found, EVERYONE, frozenset(), 100, 0)
    assert page.total == page.in_reach == page.matching == len(page.rows)
    return [row.id for row in page.rows]
