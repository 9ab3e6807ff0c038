"""The write-validation corpus (tests/conformance/corpus): realistic valid bodies of every
type the server accepts for writes, and invalid ones across the fault classes (structure,
cardinality, primitive types and formats, required bindings, invariants). The server must
accept every valid body and refuse every invalid one with a 422 naming the element; the HL7
validator must agree with the corpus (it errors on every invalid body, on no valid one)."""

import json
from pathlib import Path
from typing import Any

import httpx

from api.fhir.validation import write_types
from tests.hl7_validator import HL7Validator
from tests.support import TestIssuer

CORPUS = Path(__file__).resolve().parent / "corpus"
ISSUE_CODES = {"invalid", "structure", "required", "value", "invariant", "code-invalid"}
INTERNALS = ("Traceback", "pydantic", "api.", "File ", "Error(", "/work", ".py")


def corpus(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{kind}/{path.name}", json.loads(path.read_text()))
            for path in sorted((CORPUS / kind).glob("*.json"))]  # fmt: skip


def test_the_corpus_is_large_and_covers_every_write_type() -> None:
    valid, invalid = corpus("valid"), corpus("invalid")
    assert len(valid) >= 50 and len(invalid) >= 50, (len(valid), len(invalid))
    assert {body["resourceType"] for _, body in valid} == write_types()
    assert {body["resourceType"] for _, body in invalid} == write_types()


def _assert_refusal(name: str, response: httpx.Response) -> None:
    assert response.status_code == 422, (name, response.status_code, response.text)
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", name
    for issue in outcome["issue"]:
        assert issue["severity"] == "error" and issue["code"] in ISSUE_CODES, (name, issue)
        expression = issue["expression"][0]
        assert expression.split(".")[0] in write_types(), (name, issue)
        assert not any(word in issue["diagnostics"] for word in INTERNALS), (name, issue)


def test_the_server_accepts_every_valid_body_and_refuses_every_invalid_one(
    conformance_client: httpx.Client, conformance_issuer: TestIssuer
) -> None:
    token = conformance_issuer.token("corpus-writer", "system/*.cruds")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    wrong = []
    for name, body in corpus("valid"):
        response = conformance_client.post(
            f"/fhir/{body['resourceType']}", content=json.dumps(body), headers=headers
        )
        if response.status_code != 201:
            wrong.append((name, response.status_code, response.text))
    for name, body in corpus("invalid"):
        response = conformance_client.post(
            f"/fhir/{body['resourceType']}", content=json.dumps(body), headers=headers
        )
        _assert_refusal(name, response)
    assert not wrong, wrong


def test_corpus_agreement_with_the_hl7_validator(hl7_validator: HL7Validator) -> None:
    disagreements = []
    items = [(name, body, False) for name, body in corpus("valid")]
    items += [(name, body, True) for name, body in corpus("invalid")]
    for name, body, invalid in items:
        errors = hl7_validator.errors(body)
        if bool(errors) != invalid:
            disagreements.append(f"{name}: " + "; ".join(map(str, errors)) or "no error")
    agreed = len(items) - len(disagreements)
    print(f"\ncorpus agreement: {agreed}/{len(items)}")
    assert not disagreements, "\n".join(disagreements)
