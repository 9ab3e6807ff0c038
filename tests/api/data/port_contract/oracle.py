"""What a search must answer, worked out from the resources alone with the pure policy
(decide_resource) and the reference meaning of the criteria (api.data.matching)."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from api.data.indexing import care_team_links, security_labels
from api.data.matching import IndexedResource, indexed, meets_all, meets_one_of
from api.data.query import Alternatives, Criterion, SortKey
from api.security.access import AccessPlan, PatientReach, Reach, decide_resource

Resource = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Query:
    resource_type: str
    criteria: Sequence[Criterion]
    reach: PatientReach
    hidden_labels: frozenset[str]
    alternatives: Alternatives
    sort: Sequence[SortKey]
    limit: int
    offset: int
    count_outside_reach: bool


@dataclass(frozen=True, slots=True)
class Expected:
    ids: list[str]
    total: int
    in_reach: int
    matching: int


def expected(query: Query, stored: Sequence[Resource]) -> Expected:
    """`stored`: the bodies as saved (with their meta) of every resource not deleted."""
    members = {link for body in stored for link in care_team_links(body)}
    plan = AccessPlan(
        True,
        query.reach,
        query.hidden_labels,
        (),
        (),
        constraints=((("constrained", "yes"),),) if query.alternatives else (),
    )
    unlabelled = replace(plan, hidden_labels=frozenset())
    matches = [
        (body, resource)
        for body in stored
        if body["resourceType"] == query.resource_type
        and meets_all(query.criteria, resource := indexed(body))
    ]
    shown: list[Resource] = []
    in_reach = 0
    for body, resource in matches:
        member = (query.reach.practitioner, resource.owner) in members
        met = meets_one_of(query.alternatives, resource)
        labels = security_labels(body)
        in_reach += not decide_resource(unlabelled, resource.owner, labels, member, met).denies
        if not decide_resource(plan, resource.owner, labels, member, met).denies:
            shown.append(body)
    counted = query.count_outside_reach and query.reach.kind is not Reach.ALL
    ordered = [body["id"] for body in sort_bodies(shown, query.sort)]
    page = ordered[query.offset : query.offset + query.limit]
    return Expected(page, len(shown), in_reach, len(matches) if counted else in_reach)


def sort_bodies(bodies: list[Resource], sort: Sequence[SortKey]) -> list[Resource]:
    """By each key (no value first ascending, last descending), ties by id."""
    ordered = sorted(bodies, key=lambda body: str(body["id"]))
    for key in reversed(sort):
        values = {body["id"]: sort_value(body, key) for body in ordered}
        ordered.sort(
            key=lambda body: (values[body["id"]] is not None, values[body["id"]] or ""),
            reverse=key.descending,
        )
    return ordered


def sort_value(body: Resource, key: SortKey) -> str | None:
    if key.param == "_id":
        return str(body["id"])
    if key.param == "_lastUpdated":
        return str(body["meta"]["lastUpdated"])
    resource: IndexedResource = indexed(body)
    column = 2 if key.kind == "date" else 1
    values = [entry[column] for entry in resource.values(key.param)]
    return min(values) if values else None
