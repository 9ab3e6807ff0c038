"""Bulk Data $export through the real server: kick-off, status, files, policy and evidence."""

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.security.access import SENSITIVE_LABELS
from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, TestIssuer, wait_for

SYSTEM_EXPORT = "system/*.rs export"
ALL_CLEARANCE = sorted(SENSITIVE_LABELS)
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
STATUS_RE = re.compile(r"/fhir/\$export-status/[0-9a-f]{32}$")


def export_headers(
    issuer: TestIssuer, sub: str, scope: str = SYSTEM_EXPORT, **claims: Any
) -> dict[str, str]:
    return {**bearer(issuer, sub, scope, **claims), **ASYNC}


def kick_off(
    client: httpx.Client,
    headers: dict[str, str],
    path: str = "/fhir/Patient/$export",
    **params: str,
) -> httpx.Response:
    return client.get(path, headers=headers, params=params)


def wait_done(
    client: httpx.Client, headers: dict[str, str], location: str
) -> tuple[httpx.Response, list[httpx.Response]]:
    polls: list[httpx.Response] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.get(location, headers=headers)
        polls.append(response)
        if response.status_code != 202:
            return response, polls
        assert response.headers["x-progress"]
        time.sleep(0.1)
    raise TimeoutError("export did not finish")


def download(
    client: httpx.Client, headers: dict[str, str], manifest: dict[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], list[httpx.Response]]:
    files: dict[str, list[dict[str, Any]]] = {}
    responses = []
    for item in manifest["output"]:
        response = client.get(item["url"], headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in response.content.splitlines()]
        assert all(r["resourceType"] == item["type"] for r in lines)
        assert len(lines) == item["count"]
        files[item["type"]] = lines
        responses.append(response)
    return files, responses


def run_export(
    client: httpx.Client,
    headers: dict[str, str],
    path: str = "/fhir/Patient/$export",
    **params: str,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    started = kick_off(client, headers, path, **params)
    assert started.status_code == 202, started.text
    done, _ = wait_done(client, headers, started.headers["content-location"])
    assert done.status_code == 200, done.text
    files, _ = download(client, headers, done.json())
    return done.json(), files


def labels(resource: dict[str, Any]) -> set[str]:
    return {s.get("code") for s in resource.get("meta", {}).get("security", [])}


def owner(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    return str(resource.get("subject", {}).get("reference", "")).removeprefix("Patient/")


def searched_patient_ids(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    ids: set[str] = set()
    url: str | None = "/fhir/Patient?_count=100"
    while url:
        bundle = client.get(url, headers=headers).json()
        ids.update(e["resource"]["id"] for e in bundle.get("entry", []))
        url = next((li["url"] for li in bundle["link"] if li["relation"] == "next"), None)
    return ids


def test_full_export_matches_search_withholds_labels_and_is_evidenced(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = export_headers(issuer, "exporter-full")
    started = kick_off(client, headers)
    assert started.status_code == 202, started.text
    location = started.headers["content-location"]
    assert STATUS_RE.search(location) and location.startswith(client.base_url.__str__())
    done, polls = wait_done(client, headers, location)
    assert done.status_code == 200 and done.headers["content-type"].startswith("application/json")
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["transactionTime"] and manifest["request"].endswith("/fhir/Patient/$export")
    types = {item["type"] for item in manifest["output"]}
    assert {"Patient", "Observation", "Condition", "Encounter", "Practitioner"} <= types
    assert not types & {"AuditEvent", "Group"}
    files, downloads = download(client, headers, manifest)
    assert not any(labels(r) & SENSITIVE_LABELS for rows in files.values() for r in rows)
    exported = {r["id"] for r in files["Patient"]}
    assert exported == searched_patient_ids(client, bearer(issuer, "exporter-full", SYSTEM_EXPORT))

    kicked = evidence_for(client, auditor_headers, started.headers["x-request-id"])
    assert (kicked["action"], kicked["decision"], kicked["status"]) == ("export", "allow", 202)
    assert "export" in kicked["scopes_used"] and "Patient" in kicked["resource_type"]
    for poll in polls:
        evidence = evidence_for(client, auditor_headers, poll.headers["x-request-id"])
        assert evidence["action"] == "export.status" and evidence["status"] == poll.status_code
    final = evidence_for(client, auditor_headers, done.headers["x-request-id"])
    assert final["count_returned"] == sum(item["count"] for item in manifest["output"])
    assert final["decision"] == "partial" and "label.withheld" in final["reasons"]
    assert final["count_withheld"] > 0
    for response, item in zip(downloads, manifest["output"], strict=True):
        evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
        assert (evidence["action"], evidence["resource_type"]) == ("export.download", item["type"])
        assert evidence["count_returned"] == item["count"] and evidence["decision"] == "allow"


def test_clearance_lets_labelled_resources_out(client: httpx.Client, issuer: TestIssuer) -> None:
    plain, plain_files = run_export(
        client, export_headers(issuer, "exporter-plain"), _type="Patient,Condition"
    )
    cleared_headers = export_headers(
        issuer, "exporter-cleared", sensitivity_clearance=ALL_CLEARANCE
    )
    _, cleared_files = run_export(client, cleared_headers, _type="Patient,Condition")
    assert {item["type"] for item in plain["output"]} == {"Patient", "Condition"}
    for rtype in ("Patient", "Condition"):
        assert len(cleared_files[rtype]) > len(plain_files[rtype])
    assert any(labels(r) & SENSITIVE_LABELS for rows in cleared_files.values() for r in rows)
    cleared_ids = {r["id"] for r in cleared_files["Patient"]}
    assert cleared_ids == searched_patient_ids(client, cleared_headers)


def test_granular_scope_limits_the_export(client: httpx.Client, issuer: TestIssuer) -> None:
    scope = "system/Observation.rs?category=laboratory export"
    headers = export_headers(issuer, "exporter-granular", scope)
    manifest, files = run_export(client, headers, _type="Observation")
    assert manifest["output"][0]["count"] > 0
    for row in files["Observation"]:
        codes = {c["code"] for cat in row["category"] for c in cat["coding"]}
        assert "laboratory" in codes


def test_since_in_the_future_exports_nothing(client: httpx.Client, issuer: TestIssuer) -> None:
    manifest, files = run_export(
        client, export_headers(issuer, "exporter-since"), _since="2999-01-01T00:00:00Z"
    )
    assert manifest["output"] == [] and files == {}
    past, _ = run_export(
        client,
        export_headers(issuer, "exporter-since"),
        _type="Practitioner",
        _since="2000-01-01T00:00:00+00:00",
    )
    assert [item["type"] for item in past["output"]] == ["Practitioner"]


PATIENTS = "/fhir/Patient/$export"
ANY_GROUP = "/fhir/Group/any-group/$export"
PRACTITIONER = {"fhirUser": "Practitioner/prac-0001"}


@pytest.mark.parametrize(
    ("scope", "claims", "path", "params"),
    [
        ("system/*.rs", {}, PATIENTS, {}),
        ("user/*.rs export", PRACTITIONER, PATIENTS, {}),
        ("user/*.rs export", {**PRACTITIONER, "purpose_of_use": "ETREAT"}, PATIENTS, {}),
        ("patient/*.rs export", {"patient": "pat-00001"}, PATIENTS, {"_type": "Patient"}),
        ("system/Patient.rs export", {}, PATIENTS, {"_type": "Observation"}),
        ("system/Patient.rs export", {}, PATIENTS, {"_type": "Patient,Observation"}),
        ("system/Patient.rs export", {}, ANY_GROUP, {"_type": "Patient"}),  # Group needed too
        ("system/Group.rs export", {}, ANY_GROUP, {}),
    ],
)
def test_export_without_permission_is_refused_and_evidenced(
    client: httpx.Client,
    issuer: TestIssuer,
    auditor_headers: dict[str, str],
    scope: str,
    claims: dict[str, str],
    path: str,
    params: dict[str, str],
) -> None:
    headers = export_headers(issuer, "exporter-denied", scope, **claims)
    response = kick_off(client, headers, path, **params)
    assert_outcome(response, 403)
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["action"] == "export" and evidence["decision"] == "deny"
    assert "export.not_permitted" in evidence["reasons"]


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Prefer": ""}, {}),
        ({"Prefer": "return=minimal"}, {}),
        ({"Accept": "application/xml"}, {}),
        ({}, {"_outputFormat": "text/csv"}),
        ({}, {"_outputFormat": "application/fhir+json"}),
        ({}, {"_type": "Unknown"}),
        ({}, {"_type": "AuditEvent"}),
        ({}, {"_type": "Patient,"}),
        ({}, {"_since": "yesterday"}),
        ({}, {"_since": "2025-01-01"}),
        ({}, {"_typeFilter": "Observation?code=1"}),
        ({}, {"patient": "Patient/pat-00001"}),
    ],
)
def test_bad_kick_off_answers_400(
    client: httpx.Client,
    issuer: TestIssuer,
    auditor_headers: dict[str, str],
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    request_headers = {**export_headers(issuer, "exporter-bad"), **headers}
    response = kick_off(client, request_headers, **params)
    assert_outcome(response, 400)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["action"] == "export" and evidence["decision"] == "deny"


def test_kick_off_without_token_is_401(client: httpx.Client) -> None:
    response = client.get("/fhir/Patient/$export", headers=ASYNC)
    assert_outcome(response, 401)


def test_other_subjects_cannot_see_the_job(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    owner_headers = export_headers(issuer, "exporter-owner")
    started = kick_off(client, owner_headers, _type="Patient")
    location = started.headers["content-location"]
    done, _ = wait_done(client, owner_headers, location)
    file_url = done.json()["output"][0]["url"]
    intruder = export_headers(issuer, "exporter-intruder")
    for response in (
        client.get(location, headers=intruder),
        client.get(file_url, headers=intruder),
        client.delete(location, headers=intruder),
    ):
        assert_outcome(response, 404)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["action"] == "export.cancel" and evidence["decision"] == "deny"
    assert_outcome(client.get(location, headers={}), 401)
    assert_outcome(client.get(location.replace("/$export-status/", "/$export-status/0"),
                              headers=owner_headers), 404)  # fmt: skip
    assert client.get(file_url, headers=owner_headers).status_code == 200


def test_cancel_removes_the_job(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = export_headers(issuer, "exporter-cancel")
    location = kick_off(client, headers, _type="Observation").headers["content-location"]
    cancelled = client.delete(location, headers=headers)
    assert cancelled.status_code == 202
    assert_outcome(client.get(location, headers=headers), 404)


def test_unknown_file_answers_404(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = export_headers(issuer, "exporter-files")
    manifest, _ = run_export(client, headers, _type="Practitioner")
    url = manifest["output"][0]["url"]
    for other in ("Patient.ndjson", "job.json", "Practitioner.patients", "..%2Fjob.json"):
        assert_outcome(client.get(url.replace("Practitioner.ndjson", other), headers=headers), 404)


def test_group_export_covers_only_its_members(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    members = {"pat-00003", "pat-00004"}
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{pid}"}} for pid in sorted(members)],
    }
    writer = bearer(issuer, "group-writer", "system/*.cruds")
    created = client.post("/fhir/Group", json=group, headers=writer)
    assert created.status_code == 201, created.text
    path = f"/fhir/Group/{created.json()['id']}/$export"
    headers = export_headers(issuer, "exporter-group", sensitivity_clearance=ALL_CLEARANCE)
    started = kick_off(client, headers, path)
    assert started.status_code == 202, started.text
    done, _ = wait_done(client, headers, started.headers["content-location"])
    manifest = done.json()
    assert manifest["request"].endswith(path)
    files, downloads = download(client, headers, manifest)
    assert {r["id"] for r in files["Patient"]} == members
    assert {"Observation", "Encounter"} <= set(files) and "Practitioner" not in files
    assert {owner(r) for rows in files.values() for r in rows} == members
    patient_download = downloads[[i["type"] for i in manifest["output"]].index("Patient")]
    request_id = patient_download.headers["x-request-id"]
    evidence_for(client, auditor_headers, request_id)

    def disclosed() -> bool:
        accesses = client.get("/audit/patients/pat-00003/accesses", headers=auditor_headers)
        return request_id in {a["request_id"] for a in accesses.json()["accesses"]}

    assert wait_for(disclosed, timeout=5)


def test_group_export_refusals(client: httpx.Client, issuer: TestIssuer) -> None:
    headers = export_headers(issuer, "exporter-group")
    assert_outcome(kick_off(client, headers, "/fhir/Group/no-such-group/$export"), 404)
    response = kick_off(client, headers, "/fhir/Group/no-such-group/$export", _type="Practitioner")
    assert_outcome(response, 400)


@pytest.mark.slow
def test_jobs_survive_a_restart(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    own_issuer = fresh_issuer(request)  # starting a server points the issuer's audience at it
    first = ServerProcess(tmp_path / "data", own_issuer).start()
    try:
        with httpx.Client(base_url=first.base_url, timeout=10) as http:
            headers = export_headers(own_issuer, "exporter-restart")
            manifest, files = run_export(http, headers, _type="Patient,Practitioner")
            fhir_base = manifest["output"][0]["url"].split("/$export-file/")[0]
    finally:
        first.terminate()
    second = ServerProcess(tmp_path / "data", own_issuer, port=first.port).start()
    try:
        with httpx.Client(base_url=second.base_url, timeout=10) as http:
            headers = export_headers(own_issuer, "exporter-restart")
            job_id = manifest["output"][0]["url"].split("/")[-2]
            again = http.get(f"{fhir_base}/$export-status/{job_id}", headers=headers)
            assert again.status_code == 200 and again.json() == manifest
            downloaded, _ = download(http, headers, again.json())
            assert downloaded == files
    finally:
        second.terminate()


def test_export_redacts_contact_details_without_demographics(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    plain = export_headers(issuer, "exp-redact-1", "system/Patient.rs export")
    full = export_headers(issuer, "exp-redact-2", "system/Patient.rs export demographics")
    _, plain_files = run_export(client, plain, _type="Patient")
    _, full_files = run_export(client, full, _type="Patient")
    plain_patients = plain_files["Patient"]
    full_patients = full_files["Patient"]
    assert all("telecom" not in p and "address" not in p for p in plain_patients)
    assert any("telecom" in p for p in full_patients)
