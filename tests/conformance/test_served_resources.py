"""Every kind of resource the server answers on success, judged by the HL7 validator with 0
errors: the CapabilityStatement, a read and a vread of every type in the demo data, and
searchsets (paging links, _include/_revinclude, lenient outcomes, _elements/_summary,
POST _search)."""

from typing import Any

import httpx

from api.security.access import SENSITIVE_LABELS
from tests.conformance.judging import Verdicts
from tests.hl7_validator import HL7Validator
from tests.support import TestIssuer

CLEARANCE = sorted(SENSITIVE_LABELS)


def reader(issuer: TestIssuer) -> dict[str, str]:
    token = issuer.token("conformance-reader", "system/*.rs", sensitivity_clearance=CLEARANCE)
    return {"Authorization": f"Bearer {token}"}


def served_types(capability: dict[str, Any]) -> list[str]:
    return [r["type"] for rest in capability["rest"] for r in rest.get("resource", [])]


def test_capability_reads_and_vreads_of_every_type(
    hl7_validator: HL7Validator, conformance_client: httpx.Client, conformance_issuer: TestIssuer
) -> None:
    verdicts = Verdicts(hl7_validator)
    metadata = conformance_client.get("/fhir/metadata")
    verdicts.judge_response("GET /fhir/metadata", metadata, 200)
    headers = reader(conformance_issuer)
    types = [t for t in served_types(metadata.json()) if t != "AuditEvent"]
    assert {"Patient", "Practitioner", "Observation", "CareTeam"} <= set(types)
    for kind in types:
        bundle = conformance_client.get(f"/fhir/{kind}", params={"_count": 3}, headers=headers)
        verdicts.judge_response(f"GET /fhir/{kind}?_count=3", bundle, 200)
        entries = bundle.json().get("entry", [])
        if not entries:  # a type the demo data has none of (Group, say): nothing to read
            continue
        for entry in entries[:2]:
            resource = entry["resource"]
            path = f"/fhir/{kind}/{resource['id']}"
            verdicts.judge_response(
                f"GET {path}", conformance_client.get(path, headers=headers), 200
            )
        version = resource.get("meta", {}).get("versionId")
        if version:
            path = f"/fhir/{kind}/{resource['id']}/_history/{version}"
            verdicts.judge_response(
                f"GET {path}", conformance_client.get(path, headers=headers), 200
            )
    verdicts.assert_none()


def test_searchsets(
    hl7_validator: HL7Validator, conformance_client: httpx.Client, conformance_issuer: TestIssuer
) -> None:
    verdicts = Verdicts(hl7_validator)
    headers = reader(conformance_issuer)
    searches = [
        "/fhir/Observation?patient=pat-00012&_count=5&_include=Observation:patient",
        "/fhir/Patient?_id=pat-00002&_revinclude=Condition:patient",
        "/fhir/Encounter?patient=pat-00012&_include=Encounter:patient&_revinclude=Observation:encounter",
        "/fhir/Patient?_count=2&_elements=gender,birthDate",
        "/fhir/Observation?_count=2&_summary=true",
        "/fhir/Observation?_count=2&_summary=data",
        "/fhir/Patient?_count=2&_summary=text",
        "/fhir/Condition?_summary=count",
        "/fhir/Patient?_count=2&_total=accurate",
        "/fhir/Patient?name=no-such-name-at-all",
    ]
    for url in searches:
        verdicts.judge_response(f"GET {url}", conformance_client.get(url, headers=headers), 200)
    # paging: the next page by its link, as a client follows it
    first = conformance_client.get("/fhir/Observation", params={"_count": 3}, headers=headers)
    verdicts.judge_response("GET /fhir/Observation?_count=3", first, 200)
    links = {link["relation"]: link["url"] for link in first.json()["link"]}
    assert "next" in links, links
    verdicts.judge_response(
        "GET next page", conformance_client.get(links["next"], headers=headers), 200
    )
    # Prefer: handling=lenient with an unknown parameter: an OperationOutcome entry
    lenient = conformance_client.get(
        "/fhir/Patient?_count=2&no-such-parameter=1",
        headers={**headers, "Prefer": "handling=lenient"},
    )
    modes = [e["search"]["mode"] for e in lenient.json().get("entry", [])]
    assert "outcome" in modes, lenient.text
    verdicts.judge_response("GET lenient searchset", lenient, 200)
    posted = conformance_client.post(
        "/fhir/Patient/_search", data={"_count": "2", "gender": "female"}, headers=headers
    )
    verdicts.judge_response("POST /fhir/Patient/_search", posted, 200)
    verdicts.assert_none()
