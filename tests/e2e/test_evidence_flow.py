"""Allowed and denied requests against the real server, each found through the auditor API."""

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.support import TestIssuer

SYSTEM_READ = "system/*.rs"


def test_metadata_is_public_and_declares_smart(client: httpx.Client) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    service = body["rest"][0]["security"]["service"][0]["coding"][0]
    assert service["code"] == "SMART-on-FHIR"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Observation", "CareTeam", "MedicationRequest"} <= types


def test_smart_configuration(client: httpx.Client) -> None:
    body = client.get("/fhir/.well-known/smart-configuration").json()
    assert "permission-v2" in body["capabilities"]
    assert body["issuer"]


def test_allowed_read_is_evidenced(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    response = client.get("/fhir/Patient/pat-00001", headers=bearer(issuer, "sys-1", SYSTEM_READ))
    assert response.status_code == 200
    assert response.json()["id"] == "pat-00001"
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["decision"] == "allow"
    assert evidence["action"] == "read"
    assert evidence["resource_type"] == "Patient"
    assert evidence["principal"]["sub"] == "sys-1"
    assert evidence["count_returned"] == 1
    assert "scope.granted" in evidence["reasons"]
    assert evidence["scopes_used"] == [SYSTEM_READ]
    assert "pat-00001" not in str(evidence)  # only pseudonyms reach the evidence store


@pytest.mark.parametrize(
    ("headers_of", "status", "reason"),
    [
        (lambda i: {}, 401, "token.missing"),
        (lambda i: {"Authorization": "Bearer not.a.jwt"}, 401, "token.malformed"),
        (lambda i: {"Authorization": "Basic Zm9vOmJhcg=="}, 401, "token.malformed"),
        (lambda i: bearer(i, "u", "system/*.rs", ttl=-120), 401, "token.expired"),
        (
            lambda i: bearer(i, "u", "system/*.rs", aud="https://other"),
            401,
            "token.audience_mismatch",
        ),
        (lambda i: bearer(i, "u", "system/Practitioner.rs"), 403, "scope.insufficient"),
    ],
)
def test_denied_requests_are_evidenced(
    client: httpx.Client,
    issuer: TestIssuer,
    auditor_headers: dict[str, str],
    headers_of: object,
    status: int,
    reason: str,
) -> None:
    response = client.get("/fhir/Patient/pat-00001", headers=headers_of(issuer))  # type: ignore[operator]
    assert_outcome(response, status)
    if status == 401:
        assert response.headers["www-authenticate"].endswith('error="invalid_token"')
    else:
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["decision"] == "deny"
    assert reason in evidence["reasons"]
    assert evidence["status"] == status


def test_patient_token_reads_only_its_compartment(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "patient-app", "patient/*.rs", patient="pat-00010")
    assert client.get("/fhir/Patient/pat-00010", headers=headers).status_code == 200
    other = client.get("/fhir/Patient/pat-00011", headers=headers)
    missing = client.get("/fhir/Patient/pat-99999", headers=headers)
    assert_outcome(other, 404)
    assert other.json() == missing.json()  # existing-but-hidden looks exactly like missing
    evidence = evidence_for(client, auditor_headers, other.headers["x-request-id"])
    assert "compartment.outside" in evidence["reasons"]
    bundle = client.get("/fhir/Observation?_count=100", headers=headers).json()
    subjects = {e["resource"]["subject"]["reference"] for e in bundle.get("entry", [])}
    assert subjects <= {"Patient/pat-00010"}


def test_search_paging_and_evidence(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "sys-2", SYSTEM_READ)
    first = client.get("/fhir/Observation?category=vital-signs&_count=5", headers=headers)
    assert first.status_code == 200
    bundle = first.json()
    assert bundle["type"] == "searchset" and len(bundle["entry"]) == 5
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    second = client.get(next_url, headers=headers).json()
    ids_one = {e["resource"]["id"] for e in bundle["entry"]}
    ids_two = {e["resource"]["id"] for e in second["entry"]}
    assert ids_one.isdisjoint(ids_two)
    evidence = evidence_for(client, auditor_headers, first.headers["x-request-id"])
    assert evidence["action"] == "search" and evidence["count_returned"] == 5
    assert sorted(evidence["query_params"]) == ["_count", "category"]
    foreign = client.get(next_url, headers=bearer(issuer, "someone-else", SYSTEM_READ))
    assert_outcome(foreign, 400)


def test_count_default_and_cap(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-3", SYSTEM_READ)
    assert len(client.get("/fhir/Observation", headers=headers).json()["entry"]) == 20
    capped = client.get("/fhir/Observation?_count=5000", headers=headers).json()
    assert len(capped["entry"]) == 100


def test_security_labels_withheld_without_clearance(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    plain = bearer(issuer, "sys-4", SYSTEM_READ)
    cleared = bearer(issuer, "sys-5", SYSTEM_READ, sensitivity_clearance=["HIV", "V", "R"])
    query = "/fhir/Condition?code=86406008&_count=100"
    assert client.get(query, headers=plain).json()["total"] == 0
    assert client.get(query, headers=cleared).json()["total"] > 0


def test_patient_accounting_of_disclosures(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    response = client.get("/fhir/Patient/pat-00042", headers=bearer(issuer, "sys-6", SYSTEM_READ))
    request_id = response.headers["x-request-id"]
    evidence_for(client, auditor_headers, request_id)
    listing = client.get("/audit/patients/pat-00042/accesses", headers=auditor_headers).json()
    assert request_id in {a["request_id"] for a in listing["accesses"]}
    by_principal = client.get("/audit/principals/sys-6/accesses", headers=auditor_headers).json()
    assert request_id in {a["request_id"] for a in by_principal["accesses"]}


def test_auditor_api_needs_explicit_auditevent_scope(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    wildcard = bearer(issuer, "nosy", "system/*.cruds")
    response = client.get("/audit/principals/sys-1/accesses", headers=wildcard)
    assert_outcome(response, 403)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["resource_type"] == "AuditEvent" and evidence["decision"] == "deny"


def test_auditor_reads_are_audited(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    response = client.get("/audit/principals/sys-1/accesses", headers=auditor_headers)
    assert response.status_code == 200
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["principal"]["sub"] == "auditor-1"
    assert evidence["action"] == "audit.principal_accesses"


def test_verify_reports_intact(client: httpx.Client, auditor_headers: dict[str, str]) -> None:
    report = client.get("/audit/verify", headers=auditor_headers).json()
    assert report["intact"] is True and report["events_checked"] > 0
    assert report["problems"] == []


def test_post_search_matches_get(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-7", SYSTEM_READ)
    posted = client.post(
        "/fhir/Observation/_search",
        data={"category": "laboratory", "_count": "3"},
        headers=headers,
    )
    got = client.get("/fhir/Observation?category=laboratory&_count=3", headers=headers)
    assert posted.status_code == got.status_code == 200
    ids = [[e["resource"]["id"] for e in r.json()["entry"]] for r in (posted, got)]
    assert ids[0] == ids[1] and len(ids[0]) == 3
    next_url = next(link["url"] for link in posted.json()["link"] if link["relation"] == "next")
    assert client.get(next_url, headers=headers).status_code == 200


def test_cursor_bound_to_client(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-8", SYSTEM_READ)
    bundle = client.get("/fhir/Observation?_count=2", headers=headers).json()
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    same_sub_other_client = bearer(issuer, "sys-8", SYSTEM_READ, client_id="other-app")
    assert_outcome(client.get(next_url, headers=same_sub_other_client), 400)
    assert client.get(next_url, headers=headers).status_code == 200


def test_sort_orders_pages(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-9", SYSTEM_READ)
    first = client.get("/fhir/Patient?_sort=-birthdate&_count=10", headers=headers).json()
    dates = [e["resource"]["birthDate"] for e in first["entry"]]
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(next_url, headers=headers).json()
    dates += [e["resource"]["birthDate"] for e in second["entry"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == 20
    by_family = client.get("/fhir/Patient?_sort=family,_id&_count=30", headers=headers).json()
    families = [e["resource"]["name"][0]["family"].lower() for e in by_family["entry"]]
    assert families == sorted(families)


def test_lenient_handling_ignores_and_reports(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-10", SYSTEM_READ)
    url = "/fhir/Patient?gender=female&foo=bar&birthdate=garbage&_count=5"
    assert_outcome(client.get(url, headers=headers), 400)
    lenient = client.get(url, headers={**headers, "Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    bundle = lenient.json()
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert matches and all(e["resource"]["gender"] == "female" for e in matches)
    (entry,) = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert entry["fullUrl"].startswith("urn:uuid:")  # a searchset entry always has one
    outcome = entry["resource"]
    assert "foo" in outcome["issue"][0]["diagnostics"]
    assert "birthdate" in outcome["issue"][0]["diagnostics"]
    assert "foo" not in bundle["link"][0]["url"]


def test_cursor_refused_when_the_query_changes(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-11", SYSTEM_READ)
    first = client.get("/fhir/Observation?category=laboratory&_count=2", headers=headers).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    cursor = next_url.split("_cursor=")[1]
    for changed in (
        "category=vital-signs&_count=2",
        "_count=2",
        "category=laboratory&_count=100",
        "category=laboratory&_count=2&_sort=date",
        "category=laboratory&_count=2&_include=Observation:patient",
    ):
        response = client.get(f"/fhir/Observation?{changed}&_cursor={cursor}", headers=headers)
        assert_outcome(response, 400)


def test_quantity_search(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "sys-12", SYSTEM_READ)

    def values(query: str) -> list[float]:
        bundle = client.get(f"/fhir/Observation?code=8867-4&_count=100&{query}", headers=headers)
        assert bundle.status_code == 200, bundle.text
        return [e["resource"]["valueQuantity"]["value"] for e in bundle.json().get("entry", [])]

    fast = values("value-quantity=gt100")
    assert fast and all(v > 100 for v in fast)
    slow = values("value-quantity=le60|http://unitsofmeasure.org|/min")
    assert slow and all(v <= 60 for v in slow)
    assert values("value-quantity=le60|http://unitsofmeasure.org|kg") == []
    assert_outcome(client.get("/fhir/Observation?value-quantity=abc", headers=headers), 400)
