"""FHIR JSON responses: OperationOutcome, Bundle and the application/fhir+json type."""

from typing import Any

import orjson
from starlette.responses import Response

FHIR_JSON = "application/fhir+json"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


def operation_outcome(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def outcome_response(
    status: int, code: str, diagnostics: str, headers: dict[str, str] | None = None
) -> FhirResponse:
    body = operation_outcome("error", code, diagnostics)
    return FhirResponse(body, status_code=status, headers=headers)


def searchset(
    entries: list[Any], total: int | None, self_url: str, next_url: str | None, base: str
) -> dict[str, Any]:
    """A searchset Bundle; entries are (type, id, resource-or-Fragment, mode) tuples."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None and total >= 0:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = [
            {"fullUrl": f"{base}/{rtype}/{rid}", "resource": body, "search": {"mode": mode}}
            for rtype, rid, body, mode in entries
        ]
    return bundle
