"""AuditEvents of the auditor API (search and read) for every kind of access, and the bulk
export's manifest and NDJSON lines, judged by the HL7 validator with 0 errors.

AuditEvents follow IHE BALP, whose package is not shipped offline: their meta.profile is
"not checked" (a warning), everything else against the base R4 AuditEvent."""

import json
import time
from typing import Any

import httpx
import pytest

from api.security.access import SENSITIVE_LABELS
from tests.conformance.judging import Verdicts
from tests.hl7_validator import HL7Validator
from tests.support import TestIssuer, wait_for

CLEARANCE = sorted(SENSITIVE_LABELS)
FHIR_JSON = {"Content-Type": "application/fhir+json"}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/pat-00033"},
    "valueQuantity": {"value": 64, "system": "http://unitsofmeasure.org", "code": "/min"},
}
EXPORTER = "conformance-ae-export"
LINES_PER_TYPE = 3  # NDJSON lines judged per exported type


def bearer(issuer: TestIssuer, sub: str, scope: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(sub, scope, **claims)}"}


def make_every_kind_of_access(client: httpx.Client, issuer: TestIssuer) -> dict[str, str]:
    """One principal per kind of access; its sub by the kind."""
    subs = {kind: f"conformance-ae-{kind}" for kind in ("allowed", "denied", "glass", "write")}
    allowed = client.get(
        "/fhir/Patient/pat-00001", headers=bearer(issuer, subs["allowed"], "system/*.rs")
    )
    assert allowed.status_code == 200, allowed.text
    denied = client.get(
        "/fhir/Patient/pat-00001", headers=bearer(issuer, subs["denied"], "system/Observation.rs")
    )
    assert denied.status_code == 403, denied.text
    glass = bearer(
        issuer,
        subs["glass"],
        "user/*.rs",
        fhirUser="Practitioner/prac-0002",
        purpose_of_use="ETREAT",
    )
    assert client.get("/fhir/Patient/pat-00040", headers=glass).status_code == 200
    writer = {**bearer(issuer, subs["write"], "system/*.cruds"), **FHIR_JSON}
    created = client.post("/fhir/Observation", json=OBSERVATION, headers=writer)
    assert created.status_code == 201, created.text
    path = f"/fhir/Observation/{created.json()['id']}"
    assert client.put(path, json=created.json(), headers=writer).status_code == 200
    assert client.delete(path, headers=writer).status_code == 204
    return subs  # fmt: skip


def run_export(
    client: httpx.Client, headers: dict[str, str]
) -> tuple[httpx.Response, dict[str, list[dict[str, Any]]]]:
    started = client.get(
        "/fhir/Patient/$export",
        params={"_type": "Patient,Observation,Condition,Encounter"},
        headers={**headers, "Prefer": "respond-async", "Accept": "application/fhir+json"},
    )
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while (
        done := client.get(started.headers["content-location"], headers=headers)
    ).status_code == 202:
        assert time.monotonic() < deadline, "export did not finish"
        time.sleep(0.2)
    assert done.status_code == 200, done.text
    files = {}
    for item in done.json()["output"]:
        lines = client.get(item["url"], headers=headers).content.splitlines()
        files[item["type"]] = [json.loads(line) for line in lines[:LINES_PER_TYPE]]
    return done, files  # fmt: skip


@pytest.fixture(scope="module")
def exported(
    conformance_client: httpx.Client, conformance_issuer: TestIssuer
) -> tuple[httpx.Response, dict[str, list[dict[str, Any]]]]:
    """One export (kick-off, polls, downloads) by EXPORTER, whatever test asks first."""
    headers = bearer(
        conformance_issuer, EXPORTER, "system/*.rs export", sensitivity_clearance=CLEARANCE
    )
    return run_export(conformance_client, headers)


def test_export_manifest_and_ndjson_lines(
    exported: tuple[httpx.Response, dict[str, list[dict[str, Any]]]], hl7_validator: HL7Validator
) -> None:
    done, files = exported
    manifest = done.json()
    # The manifest is Bulk Data JSON, not a FHIR resource: its required fields, checked here.
    assert {"transactionTime", "request", "requiresAccessToken", "output", "error"} <= set(manifest)
    assert all({"type", "url"} <= set(item) for item in manifest["output"])
    verdicts = Verdicts(hl7_validator)
    assert set(files) == {"Patient", "Observation", "Condition", "Encounter"}
    for kind, lines in files.items():
        for number, resource in enumerate(lines):
            verdicts.judge(f"export {kind}.ndjson line {number + 1}", resource)
    verdicts.assert_none()


def test_audit_events_of_every_kind_of_access(
    conformance_client: httpx.Client,
    hl7_validator: HL7Validator,
    conformance_issuer: TestIssuer,
    exported: object,
) -> None:
    client = conformance_client
    subs = make_every_kind_of_access(client, conformance_issuer)
    subs["export"] = EXPORTER  # the export's kick-off, status polls and downloads
    auditor = bearer(conformance_issuer, "conformance-auditor", "system/AuditEvent.rs")

    def searchset(sub: str) -> dict[str, Any] | None:
        answer = client.get("/fhir/AuditEvent", params={"agent": sub}, headers=auditor)
        assert answer.status_code == 200, answer.text
        bundle: dict[str, Any] = answer.json()
        return bundle if bundle.get("entry") else None

    verdicts = Verdicts(hl7_validator)
    for kind, sub in subs.items():
        bundle = wait_for(lambda sub=sub: searchset(sub), timeout=10)
        verdicts.judge(f"AuditEvent searchset ({kind})", bundle)
        for entry in bundle["entry"]:
            event = entry["resource"]
            read = client.get(f"/fhir/AuditEvent/{event['id']}", headers=auditor)
            assert read.status_code == 200, read.text
            subtype = ",".join(c.get("code", "") for c in event.get("subtype", []))
            verdicts.judge(f"AuditEvent read ({kind}, {subtype})", read.json())
    verdicts.assert_none()
