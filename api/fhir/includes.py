"""_include and _revinclude: every included resource passes the same policy as a direct read
(its own type scope, patient reach, labels, granular constraints). What may not be seen is
left out and counted as withheld: never a 403 for the page, never a leak."""

from dataclasses import dataclass, field
from typing import Any

import orjson

from api.data.indexing import index_entries
from api.data.port import StoredResource
from api.fhir.search import INCLUDES, SearchRequest, constraint_alternatives, parse_search
from api.fhir.visibility import served_body, visible
from api.http.deps import Services
from api.http.request_audit import RequestAudit
from api.security.access import AccessPlan
from api.security.principal import Principal
from evidence.core import Decision, ReasonCode

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


def collect_included(
    svc: Services, principal: Principal, query: SearchRequest, matches: list[StoredResource]
) -> Included:
    included = Included(seen={(row.resource_type, row.id) for row in matches})
    for source, param in query.includes:
        _forward(svc, principal, included, matches, param, INCLUDES[(source, param)])
    for source, param in query.revincludes:
        _reverse(svc, principal, included, matches, source, param)
    return included


def _references(row: StoredResource, param: str, target: str) -> set[str]:
    entries = index_entries(orjson.loads(row.body))
    return {
        value.partition("/")[2]
        for name, value, _, _ in entries
        if name == param and value.startswith(f"{target}/")
    }


def _forward(
    svc: Services,
    principal: Principal,
    included: Included,
    matches: list[StoredResource],
    param: str,
    target: str,
) -> None:
    ids = set().union(*(_references(row, param, target) for row in matches)) if matches else set()
    plan = svc.guard.plan(principal, target, "read")
    included.plans[target] = plan
    for rid in sorted(ids):
        if (target, rid) in included.seen:
            continue
        stored = svc.repository.read(target, rid)
        if stored is None:
            continue
        ok, reasons = visible(svc, plan, stored) if plan.granted else (False, list(plan.reasons))
        if ok:
            included.add(stored)
        else:
            included.withheld += 1
            included.reasons.add(reasons[-1])


def _reverse(
    svc: Services,
    principal: Principal,
    included: Included,
    matches: list[StoredResource],
    source: str,
    param: str,
) -> None:
    plan = svc.guard.plan(principal, source, "search")
    if not plan.granted:
        return
    included.plans[source] = plan
    alternatives = constraint_alternatives(source, plan.constraints)
    for row in matches:
        room = MAX_INCLUDED - len(included.rows)
        if room <= 0:
            return
        criteria = parse_search(source, [(param, f"{row.resource_type}/{row.id}")]).criteria
        page = svc.repository.search(
            source, criteria, plan.reach, plan.hidden_labels, room, 0, alternatives=alternatives
        )
        if page.total < page.in_reach:
            included.withheld += page.in_reach - page.total
            included.reasons.add(str(ReasonCode.LABEL_WITHHELD))
        for found in page.rows:
            included.add(found)


def record_included(record: RequestAudit, included: Included) -> None:
    for row in included.rows:
        record.resource_ids.append(f"{row.resource_type}/{row.id}")
        if row.patient_id:
            record.patient_ids.add(row.patient_id)
    record.count_returned += len(included.rows)
    record.count_withheld += included.withheld
    if included.withheld:
        record.decide(Decision.PARTIAL, *sorted(included.reasons))


def included_entries(
    svc: Services, principal: Principal, record: RequestAudit, included: Included
) -> list[tuple[str, str, Any, str]]:
    entries: list[tuple[str, str, Any, str]] = []
    for row in included.rows:
        body = served_body(svc, principal, included.plans[row.resource_type], row, record)
        entries.append((row.resource_type, row.id, _fragment(body), "include"))
    return entries


def _fragment(body: bytes | dict[str, Any]) -> Any:
    return orjson.Fragment(body) if isinstance(body, bytes) else body
