"""Export files and status go only to a token that could start the same export now: the
owner's subject, issuer and client, `export` and the system read scopes of the job's types
(through the real app; each refusal is in the evidence)."""

import time
from typing import Any

import httpx

from tests.api.audit.conftest import AuditApp

SCOPE = "system/Patient.rs system/Condition.rs system/Group.rs export"
ASYNC = {"Prefer": "respond-async"}
PATIENT = "pat-00030"  # a group of this patient alone: other tests count others' accesses


def done_job(a: AuditApp, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    group = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": f"Patient/{PATIENT}"}}]}  # fmt: skip
    made = a.client.post(
        "/fhir/Group", json=group, headers=a.headers("grouper", "system/Group.cruds")
    )
    assert made.status_code == 201, made.text
    group_id = made.headers["location"].split("/Group/")[1].split("/")[0]
    url = f"/fhir/Group/{group_id}/$export?_type=Patient,Condition"
    started = a.get(url, headers={**headers, **ASYNC})
    assert started.status_code == 202, started.text
    status = started.headers["content-location"].replace("http://testserver", "")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        polled = a.get(status, headers=headers)
        if polled.status_code == 200:
            return status, polled.json()
        assert polled.status_code == 202, polled.text
        time.sleep(0.05)
    raise TimeoutError("export did not finish")


def reasons(a: AuditApp, response: httpx.Response) -> list[str]:
    return list(a.evidence(response.headers["x-request-id"])["reasons"])


def test_status_and_files_are_authorized_again_on_every_request(audit_app: AuditApp) -> None:
    a = audit_app
    owner = a.headers("exporter-1", SCOPE)
    status, manifest = done_job(a, owner)
    files = [item["url"].replace("http://testserver", "") for item in manifest["output"]]
    assert files
    narrower = {
        "empty scope": a.headers("exporter-1", ""),
        "no export scope": a.headers("exporter-1", "system/Patient.rs system/Condition.rs"),
        "a type missing": a.headers("exporter-1", "system/Patient.rs export"),
        "user scopes": a.headers(
            "exporter-1", "user/*.rs export", fhirUser="Practitioner/prac-0001"
        ),
        "granular": a.headers(
            "exporter-1", "system/Patient.rs export system/Condition.rs?category=problem-list-item"
        ),
    }
    for why, headers in narrower.items():
        for url in (status, *files):
            refused = a.get(url, headers=headers)
            assert refused.status_code == 403, (why, url, refused.text)
            assert refused.json()["resourceType"] == "OperationOutcome"
            assert "export.not_permitted" in reasons(a, refused), why
    strangers = {
        "another client": a.headers("exporter-1", SCOPE, client_id="other-app"),
        "no client": a.headers("exporter-1", SCOPE, client_id=""),
        "another subject": a.headers("exporter-2", SCOPE),
    }
    for why, headers in strangers.items():
        for url in (status, *files):
            assert a.get(url, headers=headers).status_code == 404, (why, url)
        assert a.client.delete(status, headers=headers).status_code == 404, why
    again = a.headers("exporter-1", f"{SCOPE} system/Observation.rs")  # a new, wider token
    assert a.get(status, headers=again).status_code == 200
    for url in files:
        assert a.get(url, headers=again).status_code == 200
    assert a.client.delete(status, headers=a.headers("exporter-1", "")).status_code == 403
    assert a.client.delete(status, headers=owner).status_code == 202
