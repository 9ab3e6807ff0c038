"""Writes that change who may see what (pure): what they change, and whether a principal
grants itself access.

The policy grants reach from data the API itself stores: active CareTeams (a practitioner
listed by one reaches its patient: `api.data.indexing.care_team_links`), security labels
(they withhold a resource: `api.security.access.decide_resource`), compartment membership
(a resource is seen by its patient and that patient's care team:
`api.security.compartment`), which a Patient's `link` and a Group's members enter, and
group membership (a group export covers its members). A write that changes any of them
grants (or moves) access, and break-glass alone never authorizes one: emergency access is
for treating the patient, not for widening anybody's standing access
(`break_glass.grant_refused`). A principal adding itself to a care team is recorded
(`careteam.self_added`) and alerted (`self_granted_access`).

Removing access (a member leaving a team, a CareTeam no longer active, a resource deleted)
changes nothing here: it grants nobody anything.
"""

from collections.abc import Iterator
from typing import Any

from api.data.indexing import care_team_links, security_labels, walk
from api.security.compartment import compartment_patients

__all__ = [
    "CARE_TEAM",
    "COMPARTMENT",
    "GROUP",
    "LABELS",
    "PATIENT_LINK",
    "access_changes",
    "self_added",
]

CARE_TEAM = "care_team_membership"  # a practitioner newly listed by an active CareTeam
GROUP = "group_membership"  # a member added to a Group
LABELS = "security_labels"  # labels added or removed on an existing resource
PATIENT_LINK = "patient_link"  # a Patient's links changed
COMPARTMENT = "compartment"  # an existing resource moved to other patients' compartments

Resource = dict[str, Any]


def access_changes(before: Resource | None, after: Resource | None) -> frozenset[str]:
    """What a write from `before` (None: created) to `after` (None: deleted) changes of
    what the policy reads to grant access; empty when it grants nothing."""
    if after is None:
        return frozenset()
    old: Resource = before or {}
    changes = set()
    if set(care_team_links(after)) - set(care_team_links(old)):
        changes.add(CARE_TEAM)
    if after.get("resourceType") == "Group" and _members(after) - _members(old):
        changes.add(GROUP)
    if after.get("resourceType") == "Patient" and _links(after) != _links(old):
        changes.add(PATIENT_LINK)
    if before is not None:
        if security_labels(before) != security_labels(after):
            changes.add(LABELS)
        if compartment_patients(before) != compartment_patients(after):
            changes.add(COMPARTMENT)
    return frozenset(changes)


def self_added(before: Resource | None, after: Resource | None, fhir_user: str) -> bool:
    """Does the write newly list the principal itself (`fhirUser`, relative or absolute)
    as a member of an active CareTeam?"""
    if after is None or not fhir_user:
        return False
    me = _relative(fhir_user)
    added = set(care_team_links(after)) - set(care_team_links(before or {}))
    return any(member == me for member, _ in added)


def _relative(reference: str) -> str:
    """`Type/id` of a relative or absolute reference."""
    parts = reference.rstrip("/").split("/")
    return "/".join(parts[-2:])


def _members(group: Resource) -> frozenset[str]:
    return frozenset(_strings(walk(group, ["member", "entity", "reference"])))


def _links(patient: Resource) -> frozenset[tuple[str, str]]:
    links = walk(patient, ["link"])
    return frozenset(
        (str(link.get("type", "")), str((link.get("other") or {}).get("reference", "")))
        for link in links
        if isinstance(link, dict)
    )


def _strings(values: Iterator[Any]) -> Iterator[str]:
    return (str(v) for v in values)
