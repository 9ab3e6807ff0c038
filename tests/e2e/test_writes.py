"""Create, update, delete through the real server, with versioning and policy."""

import httpx

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.support import TestIssuer

NEW_OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "category": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/pat-00020"},
    "effectiveDateTime": "2025-06-01T10:00:00+00:00",
    "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org",
                      "code": "/min"},
}  # fmt: skip


def test_create_update_delete_cycle(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "writer-1", "system/Observation.cruds")
    created = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers)
    assert created.status_code == 201, created.text
    resource = created.json()
    assert resource["meta"]["versionId"] == "1" and resource["meta"]["lastUpdated"]
    rid = resource["id"]
    resource["status"] = "amended"
    updated = client.put(f"/fhir/Observation/{rid}", json=resource, headers=headers)
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    found = client.get(f"/fhir/Observation?_id={rid}", headers=headers).json()
    assert found["total"] == 1
    assert client.delete(f"/fhir/Observation/{rid}", headers=headers).status_code == 204
    assert_outcome(client.get(f"/fhir/Observation/{rid}", headers=headers), 404)
    evidence = evidence_for(client, auditor_headers, created.headers["x-request-id"])
    assert evidence["action"] == "create" and evidence["decision"] == "allow"


def test_read_scope_cannot_write(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "reader", "system/Observation.rs")
    response = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers)
    assert_outcome(response, 403)


def test_patient_token_cannot_write_into_other_compartment(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    headers = bearer(issuer, "app", "patient/Observation.cruds", patient="pat-00021")
    response = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers)
    assert_outcome(response, 403)


def test_update_of_hidden_resource_looks_missing(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "app", "patient/Patient.cruds", patient="pat-00021")
    body = {"resourceType": "Patient", "id": "pat-00022", "active": False}
    assert_outcome(client.put("/fhir/Patient/pat-00022", json=body, headers=headers), 404)
    assert_outcome(client.delete("/fhir/Patient/pat-00022", headers=headers), 404)


def test_location_header_is_a_working_vread(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "writer-2", "system/Observation.cruds")
    created = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers)
    location = created.headers["location"]
    assert location.endswith("/_history/1")
    assert client.get(location, headers=headers).json()["id"] == created.json()["id"]
    older = location.replace("/_history/1", "/_history/0")
    assert_outcome(client.get(older, headers=headers), 404)
    other = bearer(issuer, "app", "patient/Observation.rs", patient="pat-00001")
    assert_outcome(client.get(location, headers=other), 404)


def test_if_match_updates_only_the_version_it_names(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    """Optimistic locking (FHIR "managing resource contention"): a stale If-Match answers
    412 and changes nothing; the current one applies; the evidence names the conflict."""
    headers = bearer(issuer, "writer-2", "system/Observation.cruds")
    resource = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers).json()
    rid = resource["id"]
    resource["status"] = "amended"
    first = client.put(
        f"/fhir/Observation/{rid}", json=resource, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert first.status_code == 200 and first.headers["etag"] == 'W/"2"'
    stale = client.put(
        f"/fhir/Observation/{rid}", json=resource, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert_outcome(stale, 412)
    current = client.get(f"/fhir/Observation/{rid}", headers=headers).json()
    assert current["meta"]["versionId"] == "2"
    evidence = evidence_for(client, auditor_headers, stale.headers["x-request-id"])
    assert evidence["decision"] == "deny"
    assert "resource.version_conflict" in evidence["reasons"]
    strong = client.put(
        f"/fhir/Observation/{rid}", json=resource, headers={**headers, "If-Match": '"2"'}
    )
    assert strong.status_code == 200 and strong.json()["meta"]["versionId"] == "3"


def test_if_match_refusals(client: httpx.Client, issuer: TestIssuer) -> None:
    """A malformed If-Match is a 400; If-Match on a missing resource answers like a hidden
    one (404), so it reveals nothing either."""
    headers = bearer(issuer, "writer-3", "system/Observation.cruds")
    resource = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers).json()
    rid = resource["id"]
    for bad in ("*", 'W/"0"', "3", 'W/"1", W/"2"', 'W/"x"'):
        response = client.put(
            f"/fhir/Observation/{rid}", json=resource, headers={**headers, "If-Match": bad}
        )
        assert_outcome(response, 400)
    missing = {**resource, "id": "no-such-observation"}
    response = client.put(
        "/fhir/Observation/no-such-observation",
        json=missing,
        headers={**headers, "If-Match": 'W/"1"'},
    )
    assert_outcome(response, 404)


def test_a_care_team_removed_stops_access_at_once(client: httpx.Client, issuer: TestIssuer) -> None:
    """Care-team membership is cached per server process; a CareTeam written or deleted
    through this process clears that cache, so access follows at once (another replica
    follows within its cache bound, api.access.guard.CARE_TEAM_TTL_S)."""
    admin = bearer(issuer, "admin-ct", "system/CareTeam.cruds")
    doctor = bearer(issuer, "ct-doc", "user/Patient.rs", fhirUser="Practitioner/prac-0777")
    patient = "pat-00033"
    assert_outcome(client.get(f"/fhir/Patient/{patient}", headers=doctor), 404)
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [{"member": {"reference": "Practitioner/prac-0777"}}],
    }
    created = client.post("/fhir/CareTeam", json=team, headers=admin)
    assert created.status_code == 201, created.text
    assert client.get(f"/fhir/Patient/{patient}", headers=doctor).status_code == 200
    removed = client.delete(f"/fhir/CareTeam/{created.json()['id']}", headers=admin)
    assert removed.status_code == 204
    assert_outcome(client.get(f"/fhir/Patient/{patient}", headers=doctor), 404)


def test_control_characters_in_strings_are_refused(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    """FHIR strings hold no control character but tab, CR and LF; PostgreSQL's jsonb holds
    no NUL: either store refuses the body at validation (422), stores nothing, records why."""
    headers = bearer(issuer, "writer-nul", "system/Observation.cruds")
    created = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    bodies = [
        {**NEW_OBSERVATION, "code": {"text": "heart\u0000rate"}},
        {**NEW_OBSERVATION, "code": {"text": "bell\u0007"}},
        {**NEW_OBSERVATION, "code": {"coding": [{"display": "\u001f"}]}},
        {**NEW_OBSERVATION, "extension\u0000": []},
    ]
    for body in bodies:
        posted = client.post("/fhir/Observation", json=body, headers=headers)
        assert_outcome(posted, 422)
        put = client.put(f"/fhir/Observation/{rid}", json={**body, "id": rid}, headers=headers)
        assert_outcome(put, 422)
        evidence = evidence_for(client, auditor_headers, put.headers["x-request-id"])
        assert evidence["decision"] == "deny" and evidence["status"] == 422
    stored = client.get(f"/fhir/Observation/{rid}", headers=headers).json()
    assert stored["meta"]["versionId"] == "1"
    kept = {**NEW_OBSERVATION, "code": {"text": "tab\there\r\nnew line"}}  # allowed
    assert client.put(f"/fhir/Observation/{rid}", json={**kept, "id": rid},
                      headers=headers).status_code == 200  # fmt: skip


def test_if_none_match_answers_304_for_the_version_held(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    """A client revalidating what it holds: 304 (no body) while the version is unchanged,
    200 with the new version once it changed; a hidden resource stays a 404 whatever it asks."""
    headers = bearer(issuer, "writer-4", "system/Observation.cruds")
    resource = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=headers).json()
    rid = resource["id"]
    held = {**headers, "If-None-Match": 'W/"1"'}
    unchanged = client.get(f"/fhir/Observation/{rid}", headers=held)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == 'W/"1"'
    assert client.get(f"/fhir/Observation/{rid}", headers={**headers, "If-None-Match": "*"})\
        .status_code == 304  # fmt: skip
    resource["status"] = "amended"
    assert client.put(f"/fhir/Observation/{rid}", json=resource, headers=headers).status_code == 200
    changed = client.get(f"/fhir/Observation/{rid}", headers=held)
    assert changed.status_code == 200 and changed.json()["meta"]["versionId"] == "2"
    other = bearer(issuer, "app", "patient/Observation.rs", patient="pat-00021")
    hidden = client.get(f"/fhir/Observation/{rid}", headers={**other, "If-None-Match": "*"})
    assert_outcome(hidden, 404)


def test_conditional_create_is_refused_not_ignored(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "writer-5", "system/Observation.cruds")
    conditional = {**headers, "If-None-Exist": "identifier=http://x|1"}
    response = client.post("/fhir/Observation", json=NEW_OBSERVATION, headers=conditional)
    outcome = assert_outcome(response, 501)
    assert outcome["issue"][0]["code"] == "not-supported"
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert "interaction.not_supported" in evidence["reasons"]


def test_only_fhir_json_is_served_and_standard_result_parameters_are_accepted(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    headers = bearer(issuer, "reader-n", "system/Patient.rs")
    for path, extra in (
        ("/fhir/Patient/pat-00001?_format=xml", {}),
        ("/fhir/Patient?_format=application/fhir%2Bxml", {}),
        ("/fhir/Patient/pat-00001", {"Accept": "application/fhir+xml"}),
        ("/fhir/metadata", {"Accept": "application/fhir+xml"}),
    ):
        assert_outcome(client.get(path, headers={**headers, **extra}), 406)
    for query in ("_total=accurate", "_total=none", "_pretty=true", "_format=json"):
        response = client.get(f"/fhir/Patient?_count=1&{query}", headers=headers)
        assert response.status_code == 200, (query, response.text)
    assert_outcome(client.get("/fhir/Patient?_total=sometimes", headers=headers), 400)


def test_prefer_return_shapes_the_write_answer(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = bearer(issuer, "writer-6", "system/Observation.cruds")
    minimal = client.post(
        "/fhir/Observation", json=NEW_OBSERVATION, headers={**headers, "Prefer": "return=minimal"}
    )
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["etag"] == 'W/"1"' and "/_history/1" in minimal.headers["location"]
    rid = minimal.headers["location"].split("/Observation/")[1].split("/")[0]
    body = {**NEW_OBSERVATION, "id": rid, "status": "amended"}
    outcome = client.put(
        f"/fhir/Observation/{rid}",
        json=body,
        headers={**headers, "Prefer": "return=OperationOutcome"},
    )
    assert outcome.status_code == 200 and outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.headers["etag"] == 'W/"2"'
    full = client.put(f"/fhir/Observation/{rid}", json=body, headers=headers)
    assert full.json()["resourceType"] == "Observation" and full.json()["meta"]["versionId"] == "3"
