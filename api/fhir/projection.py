"""_elements and _summary projections (pure); subsetted results carry the SUBSETTED tag."""

from typing import Any

from api.fhir.responses import SUBSETTED

MANDATORY = ("resourceType", "id", "meta")
SUMMARY_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Patient": (
        "identifier",
        "active",
        "name",
        "telecom",
        "gender",
        "birthDate",
        "address",
        "deceasedBoolean",
        "deceasedDateTime",
        "managingOrganization",
        "link",
    ),
    "Practitioner": ("identifier", "active", "name", "telecom", "address", "gender", "birthDate"),
    "Encounter": (
        "identifier",
        "status",
        "class",
        "type",
        "serviceType",
        "priority",
        "subject",
        "episodeOfCare",
        "basedOn",
        "participant",
        "appointment",
        "period",
        "reasonCode",
        "reasonReference",
        "diagnosis",
        "account",
        "location",
        "serviceProvider",
        "partOf",
    ),
    "Observation": (
        "identifier",
        "basedOn",
        "partOf",
        "status",
        "category",
        "code",
        "subject",
        "focus",
        "encounter",
        "effectiveDateTime",
        "effectivePeriod",
        "issued",
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "dataAbsentReason",
        "hasMember",
        "derivedFrom",
    ),
    "Condition": (
        "identifier",
        "clinicalStatus",
        "verificationStatus",
        "category",
        "severity",
        "code",
        "bodySite",
        "subject",
        "encounter",
        "onsetDateTime",
        "abatementDateTime",
        "recordedDate",
    ),
    "MedicationRequest": (
        "identifier",
        "status",
        "intent",
        "priority",
        "doNotPerform",
        "medicationCodeableConcept",
        "medicationReference",
        "subject",
        "encounter",
        "authoredOn",
        "requester",
        "reasonCode",
    ),
    "CareTeam": (
        "identifier",
        "status",
        "category",
        "name",
        "subject",
        "encounter",
        "period",
        "participant",
        "managingOrganization",
    ),
}


def _tagged(resource: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept


def project(resource: dict[str, Any], elements: tuple[str, ...], summary: str) -> dict[str, Any]:
    """Apply _elements or _summary; returns the resource unchanged when neither applies."""
    if elements:
        keep = set(MANDATORY) | set(elements)
        return _tagged(resource, {k: v for k, v in resource.items() if k in keep})
    if summary == "data":
        return _tagged(resource, {k: v for k, v in resource.items() if k != "text"})
    if summary == "text":
        keep = {*MANDATORY, "text"}
        return _tagged(resource, {k: v for k, v in resource.items() if k in keep})
    if summary == "true":
        keep = {*MANDATORY, *SUMMARY_ELEMENTS.get(resource.get("resourceType", ""), ())}
        return _tagged(resource, {k: v for k, v in resource.items() if k in keep})
    return resource
