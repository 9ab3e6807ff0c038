"""The Patient compartment as plain data, and what a reference names (pure).

Which elements of a resource place it in a patient's compartment is FHIR R4's Patient
CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html), for each
type this server serves: the table below lists, per type, the search parameters the
definition names and the element each one reads. A type absent from the table (Practitioner)
is in no patient's compartment and is shared by every token that may read its type.

A resource of a compartment type belongs to the one patient its compartment elements name
(the Patient resource to itself). When they name no patient, several different ones, or one
of them cannot be told to name no other patient (a foreign URL, a URN, a contained or logical
patient, no reference at all), it belongs to nobody and only a reach of every patient (system
scopes, break-glass) covers it: fail closed.

References are normalised when written (`normalize_reference`): this server's absolute URLs
become relative, version-specific references (`…/_history/n`) lose the version, and a
reference that is neither a well-formed relative one, a contained one (`#id`), a URN nor an
absolute URL is refused. Only `Patient/<id>` then names a patient of this server.
"""

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "COMPARTMENT_TYPES",
    "PATIENT_COMPARTMENT",
    "InvalidReference",
    "compartment_patients",
    "normalize_reference",
    "normalize_references",
    "owner_patient",
    "patient_named",
]

# type -> (search parameter of the CompartmentDefinition, element path it reads)
PATIENT_COMPARTMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "Patient": (("link", "link.other"),),  # and the Patient itself
    "Encounter": (("patient", "subject"),),
    "Observation": (("subject", "subject"), ("performer", "performer")),
    "Condition": (("patient", "subject"), ("asserter", "asserter")),
    "MedicationRequest": (("subject", "subject"),),
    "CareTeam": (("patient", "subject"), ("participant", "participant.member")),
    "Group": (("member", "member.entity"),),
}
COMPARTMENT_TYPES = frozenset(PATIENT_COMPARTMENT)

_ID = r"[A-Za-z0-9\-.]{1,64}"
_RELATIVE_RE = re.compile(rf"([A-Z][A-Za-z]{{1,63}})/({_ID})(?:/_history/{_ID})?")
_CONTAINED_RE = re.compile(rf"#(?:{_ID})?")
_ABSOLUTE_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/\s]+)(/\S*)?")
_URN_RE = re.compile(r"urn:(?:uuid|oid):[A-Za-z0-9.\-]{1,128}")
_PATIENT_RE = re.compile(rf"Patient/({_ID})(?:/_history/{_ID})?")


class InvalidReference(ValueError):
    """A Reference.reference that names nothing this server can resolve or pass on."""


TypeCheck = Callable[[str], bool]  # is this the name of a FHIR resource type?


def _any_type(name: str) -> bool:
    return True


def normalize_reference(text: str, fhir_base: str, is_type: TypeCheck = _any_type) -> str:
    """The reference as stored: `Type/id` for this server's resources (relative, absolute
    with `fhir_base`, with or without `_history`), contained and foreign references as given.
    InvalidReference for anything else (whitespace, a type `is_type` does not know, such as
    another letter case, a bare id, …)."""
    if _CONTAINED_RE.fullmatch(text) or _URN_RE.fullmatch(text):
        return text
    relative = _RELATIVE_RE.fullmatch(text)
    if relative:
        if not is_type(relative.group(1)):
            raise InvalidReference("not a resource type")
        return f"{relative.group(1)}/{relative.group(2)}"
    absolute = _ABSOLUTE_RE.fullmatch(text)
    if absolute is None:
        raise InvalidReference("not a reference")
    local = _local_path(text, fhir_base)
    if local is None:
        return text  # another server's resource: never one of this server's patients
    if not _RELATIVE_RE.fullmatch(local):
        raise InvalidReference("an absolute reference to this server must be Type/id")
    return normalize_reference(local, fhir_base, is_type)


def _local_path(text: str, fhir_base: str) -> str | None:
    """The part after `<fhir_base>/` when `text` is this server's (scheme and host compared
    without case, as URLs compare them), else None."""
    base, url = urlsplit(fhir_base.rstrip("/") + "/"), urlsplit(text)
    same_server = (url.scheme.lower(), url.netloc.lower()) == (
        base.scheme.lower(),
        base.netloc.lower(),
    )
    if not same_server or not url.path.startswith(base.path):
        return None
    rest = url.path[len(base.path) :]
    return rest + ("?" if url.query else "") + ("#" if url.fragment else "")


def _references(node: Any) -> Iterator[dict[str, Any]]:
    """Every object holding a string `reference` (a Reference), anywhere in the resource."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def normalize_references(
    resource: dict[str, Any], fhir_base: str, is_type: TypeCheck = _any_type
) -> dict[str, Any]:
    """A copy of the resource with every Reference.reference normalised (contained
    resources included); InvalidReference names the first one that cannot be."""
    copy: dict[str, Any] = _deep_copy(resource)
    for holder in _references(copy):
        holder["reference"] = normalize_reference(holder["reference"], fhir_base, is_type)
    return copy


def _deep_copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _deep_copy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_deep_copy(value) for value in node]
    return node


def patient_named(reference: Any) -> str:
    """The patient id a stored Reference names ("" unless exactly `Patient/<id>`, with or
    without `/_history/<version>`)."""
    if not isinstance(reference, dict):
        return ""
    match = _PATIENT_RE.fullmatch(str(reference.get("reference", "")))
    return match.group(1) if match else ""


def _names(resource: dict[str, Any], value: Any) -> str | None:
    """What one compartment element names: a patient id of this server, "" when it surely
    names no patient (another local type, a contained or logical non-patient), None when it
    cannot be told (a foreign URL, a URN, a contained or logical patient, no reference)."""
    if not isinstance(value, dict):
        return None
    text = value.get("reference")
    if isinstance(text, str):
        if patient := patient_named(value):
            return patient
        if _RELATIVE_RE.fullmatch(text):
            return ""
        if text.startswith("#"):
            contained = _contained(resource, text[1:])
            return "" if contained not in (None, "Patient") else None
        return None
    declared = value.get("type")
    return "" if isinstance(declared, str) and declared.lower() not in ("", "patient") else None


def _contained(resource: dict[str, Any], rid: str) -> str | None:
    for item in resource.get("contained") or ():
        if isinstance(item, dict) and item.get("id") == rid:
            return str(item.get("resourceType"))
    return None


def _at(node: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _at(item, path)
    elif not path:
        yield node
    elif isinstance(node, dict) and path[0] in node:
        yield from _at(node[path[0]], path[1:])


def _named(resource: dict[str, Any]) -> list[str | None]:
    return [
        _names(resource, value)
        for _, path in PATIENT_COMPARTMENT.get(str(resource.get("resourceType")), ())
        for value in _at(resource, path.split("."))
    ]


def compartment_patients(resource: dict[str, Any]) -> frozenset[str]:
    """Every patient of this server in whose compartment the resource is, by the
    CompartmentDefinition (a Patient is in its own)."""
    named = {name for name in _named(resource) if name}
    if resource.get("resourceType") == "Patient" and isinstance(resource.get("id"), str):
        named.add(resource["id"])
    return frozenset(named)


def owner_patient(resource: dict[str, Any]) -> str:
    """The one patient a resource belongs to: a Patient itself; otherwise the single patient
    its compartment elements name. "" (nobody: system scopes only, for a compartment type)
    when they name none or several, or when one of them cannot be told (it might name
    another patient: fail closed)."""
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id", ""))
    named = _named(resource)
    patients = {name for name in named if name}
    if None in named or len(patients) != 1:
        return ""
    return patients.pop()
