"""Field-level redaction: contact details only with `demographics` or for the patient's own
record; redacted resources carry the REDACTED label and are counted in the evidence."""

import httpx

from tests.e2e.helpers import bearer, evidence_for
from tests.support import TestIssuer

CONTACT = ("address", "telecom", "photo", "contact")


def _redacted(resource: dict[str, object]) -> bool:
    security = resource.get("meta", {}).get("security", [])  # type: ignore[union-attr]
    return any(label.get("code") == "REDACTED" for label in security)


def test_patient_contact_details_redacted_by_default(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    response = client.get("/fhir/Patient/pat-00016", headers=bearer(issuer, "r-1", "system/*.rs"))
    resource = response.json()
    assert not any(name in resource for name in CONTACT) and _redacted(resource)
    assert resource["name"] and resource["birthDate"]
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["count_redacted"] == 1 and evidence["count_returned"] == 1


def test_demographics_scope_sees_contact_details(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "r-2", "system/*.rs demographics")
    resource = client.get("/fhir/Patient/pat-00016", headers=headers).json()
    assert "address" in resource and "telecom" in resource and not _redacted(resource)


def test_own_record_is_not_redacted(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "r-3", "patient/*.rs", patient="pat-00016")
    resource = client.get("/fhir/Patient/pat-00016", headers=headers).json()
    assert "address" in resource and not _redacted(resource)


def test_search_pages_redacted_and_counted(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    response = client.get("/fhir/Patient?_count=7", headers=bearer(issuer, "r-4", "system/*.rs"))
    entries = [e["resource"] for e in response.json()["entry"]]
    assert len(entries) == 7 and all(_redacted(r) and "telecom" not in r for r in entries)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["count_redacted"] == 7
    elements = client.get(
        "/fhir/Patient?_count=3&_elements=telecom,name",
        headers=bearer(issuer, "r-5", "system/*.rs"),
    ).json()
    assert all("telecom" not in e["resource"] for e in elements["entry"])  # _elements can't undo it
