"""Every resource the upstream returns, judged again by our own rules (pure).

The upstream's answer is data, not a decision: a returned resource is kept only when our own
index of it (api.data.indexing, the code the stores index with) meets the search's criteria,
its owner patient lies within the reach, it meets a granular alternative and carries no
hidden label. So the gateway shows exactly what a store holding the same resources would,
whatever the upstream's search did with the narrowed query.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from api.data.indexing import security_labels
from api.data.matching import IndexedResource, indexed, meets_all, meets_one_of
from api.data.port import StoredResource
from api.data.query import Alternatives, Criterion
from api.security.access import PatientReach, Reach

__all__ = ["Judged", "PageTally", "SearchRules", "judge", "stored_from", "within_reach"]


class Judged(StrEnum):
    UNMATCHED = "unmatched"  # not a match of the search at all (or not a resource of it)
    OUTSIDE = "outside"  # a match outside the reach or the granular scope
    LABELLED = "labelled"  # within reach, but a hidden label withholds it
    VISIBLE = "visible"


@dataclass(frozen=True, slots=True)
class SearchRules:
    """What one guarded search requires of each returned resource."""

    resource_type: str
    criteria: Sequence[Criterion]
    reach: PatientReach
    care_team_patients: frozenset[str]  # the practitioner's patients, for a care-team reach
    hidden_labels: frozenset[str]
    alternatives: Alternatives = ()


def stored_from(resource: Any, index: IndexedResource | None = None) -> StoredResource | None:
    """A resource the upstream returned as the port's value (owner and labels computed as
    the stores compute them); None when it is no resource with a type and an id."""
    if not isinstance(resource, dict):
        return None
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rtype, str) or not isinstance(rid, str) or not rtype or not rid:
        return None
    version = str((resource.get("meta") or {}).get("versionId", ""))
    owner = (index or indexed(resource)).owner
    return StoredResource(
        rtype,
        rid,
        int(version) if version.isdigit() and len(version) < 19 else 0,
        owner,
        security_labels(resource),
        orjson.dumps(resource),
    )


def within_reach(reach: PatientReach, owner: str, care_team_patients: frozenset[str]) -> bool:
    """The policy's reach (api.security.access.decide_resource) over a known owner: a
    resource of nobody ("") is within a reach of every patient only."""
    if reach.kind is Reach.ALL:
        return True
    if not owner:
        return False
    if reach.kind is Reach.ONE:
        return owner == reach.patient
    if reach.kind is Reach.CARE_TEAM:
        return owner in care_team_patients
    return False


def judge(rules: SearchRules, resource: Any) -> tuple[Judged, StoredResource | None]:
    if not isinstance(resource, dict) or resource.get("resourceType") != rules.resource_type:
        return Judged.UNMATCHED, None
    index = indexed(resource)
    stored = stored_from(resource, index)
    if stored is None or not meets_all(rules.criteria, index):
        return Judged.UNMATCHED, None
    inside = within_reach(rules.reach, index.owner, rules.care_team_patients)
    if not inside or not meets_one_of(rules.alternatives, index):
        return Judged.OUTSIDE, stored
    if stored.labels & rules.hidden_labels:
        return Judged.LABELLED, stored
    return Judged.VISIBLE, stored


@dataclass(slots=True)
class PageTally:
    """One page assembled from upstream entries examined in order: the visible ones up to
    `limit`, and the counts of the port's SearchPage over what was examined."""

    limit: int
    rows: list[StoredResource] = field(default_factory=list)
    examined: int = 0  # upstream entries consumed (the next page starts after them)
    matching: int = 0
    in_reach: int = 0
    visible: int = 0  # the rows, or with `limit` 0 (counts alone) what they would be

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.limit > 0

    def take(self, rules: SearchRules, resources: Iterable[Any]) -> None:
        """Examine entries until the page is full; those after it stay unconsumed."""
        for resource in resources:
            if self.full:
                return
            self.examined += 1
            verdict, stored = judge(rules, resource)
            if verdict is Judged.UNMATCHED:
                continue
            self.matching += 1
            if verdict is Judged.OUTSIDE:
                continue
            self.in_reach += 1
            if verdict is Judged.VISIBLE and stored is not None:
                self.visible += 1
                if self.limit > 0:
                    self.rows.append(stored)
