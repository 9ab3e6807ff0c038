"""Helpers for end-to-end assertions: bearer headers, OperationOutcome checks, evidence lookup."""

from typing import Any

import httpx

from tests.support import TestIssuer, wait_for

FORBIDDEN_IN_ERRORS = ("Traceback", 'File "', "sqlite", "SELECT", "Exception", "/work/", ".py")


def bearer(issuer: TestIssuer, sub: str, scope: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(sub, scope, **claims)}"}


def assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers.get("x-request-id")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["code"] and issue["diagnostics"]
    for leak in FORBIDDEN_IN_ERRORS:
        assert leak not in response.text, f"{leak!r} disclosed in {response.text}"
    return dict(body)


def evidence_for(
    client: httpx.Client, auditor: dict[str, str], request_id: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The auditor API's view of one request, waiting up to `timeout` (contract: 5 s)."""

    def lookup() -> dict[str, Any] | None:
        response = client.get(f"/audit/requests/{request_id}", headers=auditor)
        return response.json() if response.status_code == 200 else None

    return dict(wait_for(lookup, timeout=timeout))
