"""Is an access explained? A relationship the evidence records must cover it (pure).

An *access* is an allowed event that returned some patient's data. It is explained by:
- `care_team`: the API found the principal on an active CareTeam of the patient
  (reason `careteam.member`);
- `patient_compartment`: the patient's own app or the patient themself
  (`compartment.patient`);
- `integration_scope`: a `system/` grant (`system.access`) used by a client acting for no
  person (no fhirUser): an integration's scope is its relationship to the data.

Nothing else explains an access. In particular break-glass (`break_glass`, alerted on its
own) and a person using a `system/` grant (a fhirUser with system scopes: an admin tool)
are unexplained: the evidence shows no relationship between that person and the patient.
"""

from stream.detection.event import DetectionEvent

CARE_TEAM, OWN_COMPARTMENT, INTEGRATION = "care_team", "patient_compartment", "integration_scope"
BREAK_GLASS = "break_glass"
_BY_REASON = (("careteam.member", CARE_TEAM), ("compartment.patient", OWN_COMPARTMENT))


def is_access(event: DetectionEvent) -> bool:
    """Allowed (fully or partly), some patient's data handed out."""
    return bool(event.patient_hashes) and event.returned_data


def explanation(event: DetectionEvent) -> str:
    """What explains the access ("" when nothing does)."""
    reasons = event.reasons
    if BREAK_GLASS in reasons:
        return ""
    for reason, name in _BY_REASON:
        if reason in reasons:
            return name
    if "system.access" in reasons and not event.actor_type:
        return INTEGRATION
    return ""


def unexplained(event: DetectionEvent) -> bool:
    return is_access(event) and not explanation(event)
