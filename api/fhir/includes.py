"""_include and _revinclude: every included resource passes the same policy as a direct read
(its own type scope, patient reach, labels, granular constraints). What may not be seen is
left out and counted as withheld: never a 403 for the page, never a leak."""

from dataclasses import dataclass, field
from typing import Any

import orjson

from api.data.indexing import index_entries
from api.data.port import StoredResource
from api.fhir.search import INCLUDES, SearchRequest, constraint_alternatives, parse_search
from api.fhir.serving import FhirServing
from api.fhir.visibility import resource_verdict, served_body
from api.security.access import AccessPlan
from api.security.disclosure import Disclosure, disclosed_rows
from api.security.principal import Principal
from api.security.verdict import ALLOWED, Verdict, partial
from evidence.core import ReasonCode

MAX_INCLUDED = 200


@dataclass(slots=True)
class Included:
    rows: list[StoredResource] = field(default_factory=list)
    withheld: int = 0
    seen: set[tuple[str, str]] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)  # why anything was withheld
    plans: dict[str, AccessPlan] = field(default_factory=dict)  # per included type

    def add(self, row: StoredResource) -> None:
        key = (row.resource_type, row.id)
        if key not in self.seen and len(self.rows) < MAX_INCLUDED:
            self.seen.add(key)
            self.rows.append(row)

    def verdict(self) -> Verdict:
        """Partial when anything was withheld, saying why; else nothing to add."""
        return partial(*sorted(self.reasons)) if self.withheld else ALLOWED


def collect_included(
    fhir: FhirServing, principal: Principal, query: SearchRequest, matches: list[StoredResource]
) -> Included:
    included = Included(seen={(row.resource_type, row.id) for row in matches})
    for source, param in query.includes:
        _forward(fhir, principal, included, matches, param, INCLUDES[(source, param)])
    for source, param in query.revincludes:
        _reverse(fhir, principal, included, matches, source, param)
    return included


def _references(row: StoredResource, param: str, target: str) -> set[str]:
    entries = index_entries(orjson.loads(row.body))
    return {
        value.partition("/")[2]
        for name, value, _, _ in entries
        if name == param and value.startswith(f"{target}/")
    }


def _forward(
    fhir: FhirServing,
    principal: Principal,
    included: Included,
    matches: list[StoredResource],
    param: str,
    target: str,
) -> None:
    ids = set().union(*(_references(row, param, target) for row in matches)) if matches else set()
    plan = fhir.guard.plan(principal, target, "read")
    included.plans[target] = plan
    for rid in sorted(ids):
        if (target, rid) in included.seen:
            continue
        stored = fhir.data.read(target, rid)
        if stored is None:
            continue
        verdict = resource_verdict(fhir, plan, stored) if plan.granted else plan.verdict
        if verdict.denies:
            included.withheld += 1
            included.reasons.add(verdict.reasons[-1])
        else:
            included.add(stored)


def _reverse(
    fhir: FhirServing,
    principal: Principal,
    included: Included,
    matches: list[StoredResource],
    source: str,
    param: str,
) -> None:
    plan = fhir.guard.plan(principal, source, "search")
    if not plan.granted:
        return
    included.plans[source] = plan
    alternatives = constraint_alternatives(source, plan.constraints)
    for row in matches:
        room = MAX_INCLUDED - len(included.rows)
        if room <= 0:
            return
        criteria = parse_search(source, [(param, f"{row.resource_type}/{row.id}")]).criteria
        page = fhir.data.search(
            source, criteria, plan.reach, plan.hidden_labels, room, 0, alternatives=alternatives
        )
        if page.total < page.in_reach:
            included.withheld += page.in_reach - page.total
            included.reasons.add(str(ReasonCode.LABEL_WITHHELD))
        for found in page.rows:
            included.add(found)


def included_entries(
    fhir: FhirServing, principal: Principal, included: Included
) -> tuple[list[tuple[str, str, Any, str]], Disclosure]:
    """The Bundle entries of the included resources, and what they disclosed (with what
    was withheld)."""
    entries: list[tuple[str, str, Any, str]] = []
    redacted = 0
    for row in included.rows:
        served = served_body(fhir, principal, included.plans[row.resource_type], row)
        redacted += served.redacted
        entries.append((row.resource_type, row.id, _fragment(served.body), "include"))
    rows = ((row.resource_type, row.id, row.patient_id) for row in included.rows)
    disclosed = disclosed_rows(rows, included.withheld)
    return entries, disclosed + Disclosure(redacted=redacted)


def _fragment(body: bytes | dict[str, Any]) -> Any:
    return orjson.Fragment(body) if isinstance(body, bytes) else body
