"""Hostile and broken input: always a 4xx OperationOutcome, audited, nothing disclosed."""

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.support import TestIssuer

SYSTEM_ALL = "system/*.cruds"
FHIR_JSON = "application/fhir+json"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/fhir/NoSuchType/1", 404),
        ("/fhir/NoSuchType?name=x", 404),
        ("/fhir/Patient/..%2F..%2Fetc%2Fpasswd", 404),
        ("/fhir/Patient/" + "a" * 300, 404),
        ("/fhir/Patient/%00%01", 404),
        ("/fhir/Patient?name=%27%3B%20DROP%20TABLE%20resources%3B--", 200),
        ("/fhir/Patient?birthdate=notadate", 400),
        ("/fhir/Patient?birthdate=xx2020-01-01", 400),
        ("/fhir/Patient?_count=-1", 400),
        ("/fhir/Patient?_count=abc", 400),
        ("/fhir/Observation?subject.name=smith", 400),
        ("/fhir/Observation?_has:Condition:patient:code=1", 400),
        ("/fhir/Observation?_filter=code%20eq%201", 400),
        ("/fhir/Patient?name:contains=a", 400),
        ("/fhir/Patient?_summary=bogus", 400),
        ("/fhir/Patient?_elements=%3Cscript%3E", 400),
        ("/fhir/Patient?_cursor=garbage", 400),
        ("/fhir/Patient?name=" + "x" * 1000, 400),
        ("/no/such/route", 404),
    ],
)
def test_hostile_requests(
    client: httpx.Client,
    issuer: TestIssuer,
    auditor_headers: dict[str, str],
    path: str,
    status: int,
) -> None:
    response = client.get(path, headers=bearer(issuer, "fuzzer", SYSTEM_ALL))
    if status == 200:
        assert response.status_code == 200 and response.json()["total"] == 0
    else:
        assert_outcome(response, status)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["status"] == status


def test_malformed_json_body(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = {**bearer(issuer, "writer", SYSTEM_ALL), "Content-Type": FHIR_JSON}
    response = client.post("/fhir/Patient", content=b"{not json", headers=headers)
    assert_outcome(response, 400)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["decision"] == "deny" and evidence["action"] == "create"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"resourceType": "Observation"}',
        b'{"resourceType": "Patient", "gender": 17}',
        b'{"resourceType": "Patient", "unknownField": true}',
    ],
)
def test_invalid_resources_refused(client: httpx.Client, issuer: TestIssuer, body: bytes) -> None:
    headers = {**bearer(issuer, "writer", SYSTEM_ALL), "Content-Type": FHIR_JSON}
    response = client.post("/fhir/Patient", content=body, headers=headers)
    # not a Patient at all: 400; a Patient that FHIR R4 rejects: 422
    assert_outcome(response, 422 if b'"Patient"' in body else 400)


def test_oversized_body_refused(client: httpx.Client, issuer: TestIssuer) -> None:
    body = b'{"resourceType": "Patient", "x": "' + b"a" * 2_000_000 + b'"}'
    headers = bearer(issuer, "writer", SYSTEM_ALL)
    assert_outcome(client.post("/fhir/Patient", content=body, headers=headers), 413)


def test_oversized_chunked_body_refused(client: httpx.Client, issuer: TestIssuer) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"a" * 65536

    headers = bearer(issuer, "writer", SYSTEM_ALL)
    response = client.post("/fhir/Patient", content=chunks(), headers=headers)
    assert_outcome(response, 413)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer a b", "Bearer a.b", "Bearer " + "a" * 20000, "bearer \x7f", "Token abc"],
)
def test_broken_tokens(client: httpx.Client, authorization: str) -> None:
    response = client.get("/fhir/Patient", headers={"Authorization": authorization})
    assert response.status_code in {400, 401, 431}
    if response.status_code == 401:
        assert_outcome(response, 401)


def test_method_not_allowed_and_interaction_not_supported(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    """A method a path never serves is 405; a FHIR interaction this server does not
    implement (patch, here) is 501 not-supported (api/fhir/unsupported.py)."""
    headers = bearer(issuer, "w", SYSTEM_ALL)
    assert_outcome(client.delete("/fhir/metadata", headers=headers), 405)
    assert_outcome(client.patch("/fhir/Patient/pat-00001", headers=headers), 501)


def test_server_keeps_serving(client: httpx.Client) -> None:
    assert client.get("/fhir/metadata").status_code == 200


def test_token_in_form_body_refused(client: httpx.Client, issuer: TestIssuer) -> None:
    token = issuer.token("u", "system/*.rs")
    response = client.post("/fhir/Patient/_search", data={"access_token": token, "gender": "male"})
    assert_outcome(response, 401)
    assert token not in response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_non_json_bodies_are_415(
    client: httpx.Client, issuer: TestIssuer, content_type: str
) -> None:
    headers = {**bearer(issuer, "writer", SYSTEM_ALL), "Content-Type": content_type}
    response = client.post("/fhir/Patient", content=b'{"resourceType": "Patient"}', headers=headers)
    assert_outcome(response, 415)


def test_deeply_nested_json_refused(client: httpx.Client, issuer: TestIssuer) -> None:
    body = b'{"resourceType": "Patient", "x": ' + b"[" * 200 + b"]" * 200 + b"}"
    headers = {**bearer(issuer, "writer", SYSTEM_ALL), "Content-Type": FHIR_JSON}
    assert_outcome(client.post("/fhir/Patient", content=body, headers=headers), 400)
