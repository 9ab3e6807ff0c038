"""Tokens from a real Keycloak (our realm file), end to end: what each token shape may read,
and the refused ones with their reason codes in the evidence (through the auditor API)."""

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.keycloak.conftest import TOKEN_LEEWAY_S, bearer
from tests.keycloak_server import AUDIENCE, PATIENT_USER, PRACTITIONER_USER, Keycloak

pytestmark = pytest.mark.keycloak
PATIENT = PATIENT_USER[0]  # the demo patient user's `patient` attribute is its username
PRACTITIONER = "Practitioner/prac-0001"


def _ids(bundle: dict[str, Any], resource_type: str) -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == resource_type
    }


def _evidence(fhir: httpx.Client, auditor: dict[str, str], response: httpx.Response) -> Any:
    return evidence_for(fhir, auditor, response.headers["x-request-id"])


def test_a_client_credentials_token_reads_what_its_smart_scope_allows_and_nothing_else(
    keycloak: Keycloak, fhir: httpx.Client, auditor: dict[str, str]
) -> None:
    token = keycloak.client_credentials_token("system/Patient.rs")
    read = fhir.get("/fhir/Patient/pat-00001", headers=bearer(token))
    assert read.status_code == 200 and read.json()["id"] == "pat-00001"
    search = fhir.get("/fhir/Patient", params={"_count": 5}, headers=bearer(token))
    assert search.status_code == 200 and len(_ids(search.json(), "Patient")) == 5
    for path in ("/fhir/Observation?patient=pat-00001", "/fhir/AuditEvent", "/audit/alerts"):
        assert_outcome(fhir.get(path, headers=bearer(token)), 403)
    evidence = _evidence(fhir, auditor, read)
    assert evidence["decision"] == "allow" and "scope.granted" in evidence["reasons"]
    assert evidence["principal"]["issuer"] == keycloak.issuer
    assert evidence["principal"]["client_id"] == "fhir-evidence-backend"
    assert evidence["token"]["alg"] == "RS256" and evidence["token"]["kid"]


def test_a_pkce_login_of_the_patient_user_sees_only_that_patient(
    keycloak: Keycloak, fhir: httpx.Client, auditor: dict[str, str]
) -> None:
    token = keycloak.pkce_login(*PATIENT_USER, "openid launch/patient patient/*.rs")
    assert fhir.get(f"/fhir/Patient/{PATIENT}", headers=bearer(token)).status_code == 200
    other = fhir.get("/fhir/Patient/pat-00011", headers=bearer(token))
    assert_outcome(other, 404)  # exists, but outside the compartment: as if it did not
    observations = fhir.get("/fhir/Observation", params={"_count": 100}, headers=bearer(token))
    assert observations.status_code == 200
    subjects = {e["resource"]["subject"]["reference"] for e in observations.json()["entry"]}
    assert subjects == {f"Patient/{PATIENT}"}
    evidence = _evidence(fhir, auditor, other)
    assert evidence["decision"] == "deny" and "compartment.outside" in evidence["reasons"]
    assert evidence["principal"]["client_id"] == "fhir-evidence-app"


def test_a_practitioner_with_fhir_user_sees_their_care_team_patients(
    keycloak: Keycloak, fhir: httpx.Client
) -> None:
    system = bearer(keycloak.client_credentials_token("system/*.rs"))
    teams = fhir.get(
        "/fhir/CareTeam",
        params={"participant": PRACTITIONER, "status": "active", "_count": 100},
        headers=system,
    )
    assert teams.status_code == 200, teams.text
    cared_for = {
        e["resource"]["subject"]["reference"].removeprefix("Patient/")
        for e in teams.json()["entry"]
    }
    # Labelled patients (R, V, ...) stay withheld from both tokens: no clearance claim here.
    unlabelled = fhir.get(
        "/fhir/Patient", params={"_id": ",".join(sorted(cared_for)), "_count": 100}, headers=system
    )
    assert unlabelled.status_code == 200, unlabelled.text
    expected = _ids(unlabelled.json(), "Patient")
    assert expected, "the demo data gives the demo practitioner a care team"
    token = keycloak.pkce_login(*PRACTITIONER_USER, "openid fhirUser user/*.rs")
    seen = fhir.get("/fhir/Patient", params={"_count": 100}, headers=bearer(token))
    assert seen.status_code == 200
    assert _ids(seen.json(), "Patient") == expected
    stranger = next(f"pat-{n:05d}" for n in range(1, 201) if f"pat-{n:05d}" not in cared_for)
    assert_outcome(fhir.get(f"/fhir/Patient/{stranger}", headers=bearer(token)), 404)


def _refused(fhir: httpx.Client, auditor: dict[str, str], token: str, reason: str) -> None:
    response = fhir.get("/fhir/Patient/pat-00001", headers=bearer(token))
    assert_outcome(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    evidence = _evidence(fhir, auditor, response)
    assert evidence["decision"] == "deny" and reason in evidence["reasons"], evidence


def test_keycloak_tokens_for_another_audience_expired_or_from_another_realm_are_401(
    keycloak: Keycloak, fhir: httpx.Client, auditor: dict[str, str]
) -> None:
    realm, unique = keycloak.realm, uuid.uuid4().hex[:8]  # (a reused Keycloak has the last)
    short_lived = keycloak.admin.create_service_client(
        realm, f"short-lived-{unique}", AUDIENCE, token_lifespan_s=1
    )
    expiring = keycloak.client_credentials_token("", client=short_lived)
    began = time.monotonic()
    other_api = keycloak.admin.create_service_client(
        realm, f"other-api-{unique}", "https://other-api.example/fhir"
    )
    _refused(fhir, auditor, keycloak.client_credentials_token("", client=other_api),
             "token.audience_mismatch")  # fmt: skip
    other_realm = f"other-hospital-{unique}"  # same Keycloak, same audience, another `iss`
    keycloak.admin.create_realm(other_realm)
    stranger = keycloak.admin.create_service_client(other_realm, "stranger", AUDIENCE)
    foreign = keycloak.client_credentials_token("", client=stranger, realm=other_realm)
    _refused(fhir, auditor, foreign, "token.issuer_untrusted")
    time.sleep(max(0.0, began + 1 + TOKEN_LEEWAY_S + 1.5 - time.monotonic()))
    _refused(fhir, auditor, expiring, "token.expired")
