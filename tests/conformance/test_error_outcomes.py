"""The OperationOutcome of every error status the API gives, judged by the HL7 validator with
0 errors. 503 (a dependency failed) needs a broken store and is left to the fault tests
(tests/deployment); its body comes from the same error handler as every status here."""

import httpx

from tests.conformance.judging import Verdicts
from tests.hl7_validator import HL7Validator
from tests.support import TestIssuer

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/pat-00031"},
    "valueQuantity": {"value": 61, "system": "http://unitsofmeasure.org", "code": "/min"},
}

INVALID = {"resourceType": "Observation", "status": 7}


def bearer(issuer: TestIssuer, sub: str, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(sub, scope)}"}


def test_every_error_status_answers_a_valid_outcome(
    conformance_client: httpx.Client, hl7_validator: HL7Validator, conformance_issuer: TestIssuer
) -> None:
    client, verdicts = conformance_client, Verdicts(hl7_validator)
    reader = bearer(conformance_issuer, "conformance-errors", "system/*.rs")
    writer = bearer(conformance_issuer, "conformance-errors-w", "system/*.cruds")
    fhir_json = {"Content-Type": "application/fhir+json"}
    xml = {**writer, "Content-Type": "application/xml"}
    conditional = {**writer, **fhir_json, "If-None-Exist": "code=8867-4"}
    other_type = bearer(conformance_issuer, "conformance-errors-o", "system/Observation.rs")
    write = {**writer, **fhir_json}
    get, post = client.get, client.post
    answers: list[tuple[str, httpx.Response, int]] = [
        ("unknown search parameter", get("/fhir/Patient?bogus=1", headers=reader), 400),
        ("tampered cursor", get("/fhir/Patient?_cursor=x", headers=reader), 400),
        ("no token", get("/fhir/Patient/pat-00001"), 401),
        ("no JWT", get("/fhir/Patient", headers={"Authorization": "Bearer x"}), 401),
        ("scope for another type", get("/fhir/Patient/pat-00001", headers=other_type), 403),
        ("unknown id", get("/fhir/Patient/no-such-patient", headers=reader), 404),
        ("unknown type", get("/fhir/Basic/x", headers=reader), 404),
        ("delete of the metadata", client.delete("/fhir/metadata", headers=reader), 405),
        ("_format=xml", get("/fhir/Patient/pat-00001?_format=xml", headers=reader), 406),
        ("Accept: XML", get("/fhir/metadata", headers={"Accept": "application/fhir+xml"}), 406),
        ("body too large", post("/fhir/Observation", content=b" " * 1_100_000, headers=write), 413),
        ("XML body", post("/fhir/Observation", content=b"<x/>", headers=xml), 415),
        ("invalid resource", post("/fhir/Observation", json=INVALID, headers=write), 422),
        (
            "conditional create",
            post("/fhir/Observation", json=OBSERVATION, headers=conditional),
            501,
        ),
    ]
    created = client.post("/fhir/Observation", json=OBSERVATION, headers={**writer, **fhir_json})
    assert created.status_code == 201, created.text
    path = f"/fhir/Observation/{created.json()['id']}"
    stale = {**writer, **fhir_json, "If-Match": 'W/"99"'}
    answers.append(("stale If-Match", client.put(path, json=created.json(), headers=stale), 412))
    throttled: httpx.Response | None = None
    for _ in range(80):  # the stock burst is 50 per address
        throttled = client.get("/fhir/Patient", headers={"X-Forwarded-For": "192.0.2.44"})
        if throttled.status_code == 429:
            break
    assert throttled is not None
    answers.append(("unauthenticated burst", throttled, 429))
    statuses = set()
    for label, response, status in answers:
        verdicts.judge_response(f"{status} {label}", response, status)
        statuses.add(status)
    print(f"\nerror statuses judged: {sorted(statuses)}")
    verdicts.assert_none()
