"""Writes through the gateway into the real HAPI upstream: the e2e tier's write tests
unchanged, then what only an upstream shows: its version ids and ETags passed through,
`If-Match` against a version changed at the upstream directly, a delete the upstream refuses
(other resources refer to it: 409), no resource moved into or out of a compartment the
writer cannot reach (the new and the stored version both checked, the upstream's copy
untouched), labels, and the evidence of each write. Every resource here is created by the
test (fresh ids), so the read and leak tests sharing the session's HAPI see the demo data.

Not reused from tests/e2e/test_writes.py: the care-team test, whose CareTeam names a
practitioner that does not exist (HAPI enforces referential integrity: 422 here; the same
check is made below with one that does), and the If-Match and Prefer tests, which PUT an
unchanged body and expect a new version: HAPI keeps the version of an update that changes
nothing, and its version ids are passed through (checked below)."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.e2e.test_writes import (  # noqa: F401
    NEW_OBSERVATION,
    test_conditional_create_is_refused_not_ignored,
    test_control_characters_in_strings_are_refused,
    test_create_update_delete_cycle,
    test_if_match_refusals,
    test_if_none_match_answers_304_for_the_version_held,
    test_location_header_is_a_working_vread,
    test_patient_token_cannot_write_into_other_compartment,
    test_read_scope_cannot_write,
    test_update_of_hidden_resource_looks_missing,
)
from tests.hapi_server import FHIR_JSON, HapiUpstream
from tests.support import TestIssuer

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
ADMIN = "system/*.cruds"


CREATED: list[str] = []  # "Type/id" of what this module's own tests created, in order


@pytest.fixture(scope="module")
def upstream(hapi_upstream: HapiUpstream) -> Iterator[httpx.Client]:
    """HAPI itself, asked directly (what the gateway stored, changes behind its back); at
    the end it deletes what the tests below created, referring ones first."""
    headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
    with httpx.Client(base_url=hapi_upstream.base_url, headers=headers, timeout=30) as http:
        yield http
        for path in reversed(CREATED):
            http.delete(path)  # already gone is fine: some tests delete their own
        CREATED.clear()


def _create(client: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> str:
    return _created(client.post(f"/fhir/{body['resourceType']}", json=body, headers=headers))


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    rtype, rid = response.headers["location"].split("/")[-4:-2]
    CREATED.append(f"{rtype}/{rid}")
    return rid


def _observation(patient: str, **changes: Any) -> dict[str, Any]:
    return {**NEW_OBSERVATION, "subject": {"reference": f"Patient/{patient}"}, **changes}


def _version(upstream: httpx.Client, path: str) -> tuple[str, dict[str, Any]]:
    """HAPI's ETag and resource."""
    response = upstream.get(path)
    assert response.status_code == 200, response.text
    return response.headers["etag"], response.json()


def _evidence(client: httpx.Client, auditor: dict[str, str], response: httpx.Response)\
        -> dict[str, Any]:  # fmt: skip
    return evidence_for(client, auditor, response.headers["x-request-id"])


def test_upstream_versions_pass_through_and_if_match_guards_them(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str],
    upstream: httpx.Client,
) -> None:  # fmt: skip
    admin = bearer(issuer, "gw-writer-1", ADMIN)
    patient = _create(client, admin, {"resourceType": "Patient", "active": True})
    created = client.post("/fhir/Observation", json=_observation(patient), headers=admin)
    rid = _created(created)
    assert created.headers["etag"] == 'W/"1"' and created.json()["id"] == rid
    etag, held = _version(upstream, f"Observation/{rid}")
    assert etag == 'W/"1"' and held["meta"]["versionId"] == "1"
    assert created.json()["meta"]["lastUpdated"] == held["meta"]["lastUpdated"]
    behind = upstream.put(f"Observation/{rid}", json={**held, "status": "amended"})
    assert behind.status_code == 200  # changed at the upstream, not through the gateway
    mine = {**held, "status": "cancelled"}
    stale = client.put(f"/fhir/Observation/{rid}", json=mine,
                       headers={**admin, "If-Match": 'W/"1"'})  # fmt: skip
    assert_outcome(stale, 412)
    etag, held = _version(upstream, f"Observation/{rid}")
    assert etag == 'W/"2"' and held["status"] == "amended"  # nothing overwritten
    read = client.get(f"/fhir/Observation/{rid}", headers=admin)
    assert read.headers["etag"] == 'W/"2"' and read.json()["status"] == "amended"
    current = client.put(f"/fhir/Observation/{rid}", json=mine,
                         headers={**admin, "If-Match": 'W/"2"'})  # fmt: skip
    assert current.status_code == 200 and current.headers["etag"] == 'W/"3"'
    assert _version(upstream, f"Observation/{rid}")[0] == 'W/"3"'
    assert current.headers["location"].endswith(f"/Observation/{rid}/_history/3")
    unchanged = client.put(f"/fhir/Observation/{rid}", json=mine, headers=admin)
    assert unchanged.status_code == 200 and unchanged.headers["etag"] == 'W/"3"'  # as HAPI's
    assert _version(upstream, f"Observation/{rid}")[0] == 'W/"3"'
    for response, action, decision in ((created, "create", "allow"), (stale, "update", "deny"),
                                       (current, "update", "allow")):  # fmt: skip
        evidence = _evidence(client, auditor_headers, response)
        assert (evidence["action"], evidence["decision"]) == (action, decision)
        assert evidence["resource_type"] == "Observation"
        assert evidence["count_returned"] == (decision == "allow")
    assert "resource.version_conflict" in _evidence(client, auditor_headers, stale)["reasons"]


def test_delete_and_a_delete_the_upstream_refuses(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str],
    upstream: httpx.Client, hapi_upstream: HapiUpstream,
) -> None:  # fmt: skip
    admin = bearer(issuer, "gw-writer-2", ADMIN)
    patient = _create(client, admin, {"resourceType": "Patient", "active": True})
    observation = _create(client, admin, _observation(patient))
    referred = client.delete(f"/fhir/Patient/{patient}", headers=admin)
    outcome = assert_outcome(referred, 409)
    assert outcome["issue"][0]["code"] == "conflict"
    for leak in ("HAPI", urlsplit(hapi_upstream.base_url).netloc, "Observation/"):
        assert leak not in referred.text
    assert upstream.get(f"Patient/{patient}").status_code == 200
    evidence = _evidence(client, auditor_headers, referred)
    assert (evidence["action"], evidence["decision"], evidence["status"]) == ("delete", "deny", 409)
    assert "resource.referenced" in evidence["reasons"]
    deleted = client.delete(f"/fhir/Observation/{observation}", headers=admin)
    assert deleted.status_code == 204
    assert upstream.get(f"Observation/{observation}").status_code == 410
    assert_outcome(client.get(f"/fhir/Observation/{observation}", headers=admin), 404)
    assert_outcome(client.delete(f"/fhir/Observation/{observation}", headers=admin), 404)
    assert client.delete(f"/fhir/Patient/{patient}", headers=admin).status_code == 204
    evidence = _evidence(client, auditor_headers, deleted)
    assert (evidence["action"], evidence["decision"]) == ("delete", "allow")


def test_no_write_moves_a_resource_across_a_compartment_boundary(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str],
    upstream: httpx.Client,
) -> None:  # fmt: skip
    """A patient and a practitioner (care team of patient `a` only, read from the upstream)
    can neither move their own resource out to `b` nor take `b`'s in: the new version is
    refused (403), the stored one hidden (404), the upstream's copy untouched."""
    admin = bearer(issuer, "gw-writer-3", ADMIN)
    a, b = (_create(client, admin, {"resourceType": "Patient", "active": True}) for _ in "ab")
    practitioner = _create(client, admin, {"resourceType": "Practitioner", "active": True})
    team = _create(client, admin, {
        "resourceType": "CareTeam", "status": "active", "subject": {"reference": f"Patient/{a}"},
        "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}]})  # fmt: skip
    obs_a, obs_b = _create(client, admin, _observation(a)), _create(client, admin, _observation(b))
    writers = {
        "patient": bearer(issuer, "gw-pat", "patient/Observation.cruds", patient=a),
        "practitioner": bearer(issuer, "gw-doc", "user/Observation.cruds user/Patient.rs",
                               fhirUser=f"Practitioner/{practitioner}"),
    }  # fmt: skip
    for who, headers in writers.items():
        out = client.put(f"/fhir/Observation/{obs_a}", headers=headers,
                         json=_observation(b, id=obs_a))  # fmt: skip
        assert_outcome(out, 403)
        assert _evidence(client, auditor_headers, out)["decision"] == "deny"
        into = client.put(f"/fhir/Observation/{obs_b}", headers=headers,
                          json=_observation(a, id=obs_b))  # fmt: skip
        assert_outcome(into, 404)
        assert_outcome(client.post("/fhir/Observation", json=_observation(b), headers=headers),
                       403)  # fmt: skip
        for rid, owner in ((obs_a, a), (obs_b, b)):
            held = _version(upstream, f"Observation/{rid}")[1]
            assert held["subject"]["reference"] == f"Patient/{owner}", who
        kept = client.put(f"/fhir/Observation/{obs_a}", headers=headers,
                          json=_observation(a, id=obs_a, status="amended"))  # fmt: skip
        assert kept.status_code == 200, (who, kept.text)
        assert kept.headers["etag"] == _version(upstream, f"Observation/{obs_a}")[0]
    doctor = writers["practitioner"]
    assert client.get(f"/fhir/Patient/{a}", headers=doctor).status_code == 200
    assert client.delete(f"/fhir/CareTeam/{team}", headers=admin).status_code == 204
    assert_outcome(client.get(f"/fhir/Patient/{a}", headers=doctor), 404)  # at once


def test_labels_are_checked_on_the_stored_version(
    client: httpx.Client, issuer: TestIssuer, upstream: httpx.Client
) -> None:
    """A labelled resource written without clearance is stored but not shown (201, no
    body); its stored version then hides it from that writer's updates (404, the upstream's
    copy kept); a cleared writer may drop the label, and then it is seen: the upstream
    stores the meta written (HAPI keeps an earlier version's labels unless told not to)."""
    plain = bearer(issuer, "gw-writer-4", ADMIN)
    cleared = bearer(issuer, "gw-writer-5", ADMIN, sensitivity_clearance=["HIV"])
    patient = _create(client, plain, {"resourceType": "Patient", "active": True})
    hiv = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}
    labelled = _observation(patient, meta={"security": [hiv]})
    created = client.post("/fhir/Observation", json=labelled, headers=plain)
    rid = _created(created)
    assert created.content == b""
    assert_outcome(client.get(f"/fhir/Observation/{rid}", headers=plain), 404)
    unlabelled = _observation(patient, id=rid, status="amended")
    assert_outcome(client.put(f"/fhir/Observation/{rid}", json=unlabelled, headers=plain), 404)
    etag, held = _version(upstream, f"Observation/{rid}")
    assert etag == 'W/"1"' and held["meta"]["security"][0]["code"] == "HIV"
    dropped = client.put(f"/fhir/Observation/{rid}", json=unlabelled, headers=cleared)
    assert dropped.status_code == 200 and dropped.headers["etag"] == 'W/"2"'
    assert "security" not in _version(upstream, f"Observation/{rid}")[1]["meta"]  # as judged
    assert client.get(f"/fhir/Observation/{rid}", headers=plain).json()["status"] == "amended"
