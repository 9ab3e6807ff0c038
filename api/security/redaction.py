"""Field-level redaction (minimum necessary), pure: which elements a caller does not get.

Default: a Patient's address, telecom, photo and contact are removed unless the token holds
the `demographics` scope or it is the patient's own record in patient context. Removed
elements are marked with the DS4P REDACTED security label.
"""

from collections.abc import Mapping
from typing import Any

from api.security.access import AccessPlan, Reach

DEMOGRAPHICS_SCOPE = "demographics"
DEFAULT_REDACTIONS: Mapping[str, tuple[str, ...]] = {
    "Patient": ("address", "telecom", "photo", "contact"),
}
REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}


def fields_to_redact(
    plan: AccessPlan,
    known_scopes: frozenset[str],
    resource_type: str,
    owner_patient: str,
    rules: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    fields = rules.get(resource_type, ())
    if not fields or DEMOGRAPHICS_SCOPE in known_scopes:
        return ()
    if plan.reach.kind is Reach.ONE and owner_patient and owner_patient == plan.reach.patient:
        return ()  # the patient's own record
    return fields


def redact(resource: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The resource without `fields` and labelled REDACTED; None when none was present."""
    if not any(name in resource for name in fields):
        return None
    kept = {name: value for name, value in resource.items() if name not in fields}
    meta = dict(kept.get("meta", {}))
    meta["security"] = [*meta.get("security", []), REDACTED]
    kept["meta"] = meta
    return kept
