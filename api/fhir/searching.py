"""The search interaction (GET and POST _search): what was asked (a GET's query names are
resolved before the token, so a refused search still names them; a POST's form body is read
only once the caller is authenticated), then the guarded query, the page's verdict and
disclosure, the included resources and the searchset Bundle. Only the type's own search
parameters and the result parameters are recorded by name; any other name only hashed."""

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request

from api.data.indexing import SEARCH_PARAMS
from api.data.port import SearchPage
from api.errors import InvalidRequest, Unauthorized
from api.fhir.includes import collect_included, included_entries
from api.fhir.probes import named_patients, outside_reach
from api.fhir.projection import project
from api.fhir.responses import searchset
from api.fhir.search import (
    CONTROL_PARAMS,
    SearchRequest,
    constraint_alternatives,
    ignored_outcome,
    parse_search,
)
from api.fhir.serving import FhirServing
from api.fhir.visibility import Body, known_type, served_body
from api.http.deps import audit
from api.security.access import AccessPlan, Reach
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor, query_fingerprint
from api.security.disclosure import Disclosure, disclosed_rows
from api.security.principal import Principal
from api.security.verdict import ALLOWED, Verdict, combine, partial
from evidence.core import ReasonCode

PATIENT_PARAMS = frozenset({"patient", "subject", "_id"})
Entry = tuple[str, str, Any, str]  # (type, id, resource, search mode)
_check_type = known_type("search")


@dataclass(frozen=True, slots=True)
class SearchInput:
    resource_type: str
    params: list[tuple[str, str]]


def known_params(resource_type: str) -> frozenset[str]:
    """The names a search of `resource_type` may carry: recorded as they are."""
    return frozenset(SEARCH_PARAMS[resource_type]) | CONTROL_PARAMS


async def searched_by_query(request: Request, resource_type: str) -> SearchInput:
    """A dependency: GET search of a served type; its parameter names recorded."""
    await _check_type(request, resource_type)
    params = list(request.query_params.multi_items())
    audit(request).asked((name for name, _ in params), known_params(resource_type))
    return SearchInput(resource_type, params)


async def searched_type(request: Request, resource_type: str) -> str:
    """A dependency: the served type of a POST _search (404 before any token check)."""
    return await _check_type(request, resource_type)


async def searched_by_form(request: Request, resource_type: str) -> SearchInput:
    """POST _search of a served type (form and query parameters), called by the route once
    the caller is authenticated: no body of an unauthenticated caller is ever read. A token
    in the body is refused (RFC 6750 body tokens are never accepted)."""
    audit(request).asked(request.query_params.keys(), known_params(resource_type))
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if any(name == "access_token" for name, _ in params):
        raise Unauthorized(ReasonCode.TOKEN_MALFORMED)
    params += list(request.query_params.multi_items())
    audit(request).asked((name for name, _ in params), known_params(resource_type))
    return SearchInput(resource_type, params)


def run_search(
    request: Request, fhir: FhirServing, principal: Principal, searched: SearchInput
) -> dict[str, Any]:
    """The searchset Bundle; the request's outcome concluded with what it disclosed."""
    resource_type, params = searched.resource_type, searched.params
    lenient = "handling=lenient" in request.headers.get("prefer", "").replace(" ", "")
    query = parse_search(resource_type, params, lenient=lenient)
    plan = fhir.guard.authorize(principal, resource_type, "search")
    audit(request).granted(plan.verdict, plan.scopes_used)
    offset = _offset(fhir, principal, resource_type, query)
    page = _page(fhir, plan, query, offset)
    verdict, disclosed = page_verdict(plan, page), page_disclosure(page)
    verdict = combine(verdict, _probing(request, fhir, plan, query))
    entries, redacted = _matches(fhir, principal, plan, page, query)
    if (query.includes or query.revincludes) and page.rows:
        included = collect_included(fhir, principal, query, page.rows)
        verdict = combine(verdict, included.verdict())
        more, included_disclosed = included_entries(fhir, principal, included)
        entries, disclosed = entries + more, disclosed + included_disclosed
    audit(request).conclude(verdict, disclosed + Disclosure(redacted=redacted))
    return _bundle(params, fhir, principal, query, page, offset, entries)


def _probing(
    request: Request, fhir: FhirServing, plan: AccessPlan, query: SearchRequest
) -> Verdict:
    """Patients the search named outside the reach, recorded (the answer is unchanged)."""
    named = named_patients(query.resource_type, query.criteria)
    probed = outside_reach(plan.reach, named, fhir.guard.care_team_member) if named else ()
    if not probed:
        return ALLOWED
    audit(request).probed(probed)
    return partial(_reach_reason(plan), ReasonCode.SEARCH_PATIENT_OUTSIDE_REACH)


def _page(fhir: FhirServing, plan: AccessPlan, query: SearchRequest, offset: int) -> SearchPage:
    rtype = query.resource_type
    return fhir.data.search(
        rtype,
        query.criteria,
        plan.reach,
        plan.hidden_labels,
        0 if query.summary == "count" else query.count,
        offset,
        count_outside_reach=any(c.param in PATIENT_PARAMS for c in query.criteria),
        alternatives=constraint_alternatives(rtype, plan.constraints),
        sort=query.sort,
    )


def page_verdict(plan: AccessPlan, page: SearchPage) -> Verdict:
    """Partial when matches were left out, saying why (outside the reach, labels)."""
    reasons = []
    if page.in_reach < page.matching:
        reasons.append(_reach_reason(plan))
    if page.total < page.in_reach:
        reasons.append(str(ReasonCode.LABEL_WITHHELD))
    return partial(*reasons) if reasons else ALLOWED


def page_disclosure(page: SearchPage) -> Disclosure:
    rows = ((row.resource_type, row.id, row.patient_id) for row in page.rows)
    return disclosed_rows(rows, page.matching - page.total)


def _reach_reason(plan: AccessPlan) -> str:
    if plan.reach.kind is Reach.CARE_TEAM:
        return str(ReasonCode.CARETEAM_NOT_MEMBER)
    return str(ReasonCode.COMPARTMENT_OUTSIDE)


def _matches(
    fhir: FhirServing, principal: Principal, plan: AccessPlan, page: SearchPage,
    query: SearchRequest,
) -> tuple[list[Entry], int]:  # fmt: skip
    """The page's entries and how many were redacted."""
    entries: list[Entry] = []
    redacted = 0
    for row in page.rows:
        served = served_body(fhir, principal, plan, row)
        redacted += served.redacted
        entries.append((row.resource_type, row.id, _entry_body(served.body, query), "match"))
    return entries, redacted


def _offset(
    fhir: FhirServing, principal: Principal, resource_type: str, query: SearchRequest
) -> int:
    if not query.cursor:
        return 0
    fingerprint = query_fingerprint(resource_type, query.fingerprint_params)
    try:
        position = decode_cursor(
            fhir.cursor_key, query.cursor, principal.binding, fingerprint, int(fhir.clock())
        )
        if not isinstance(position, int) or position < 0:
            raise CursorInvalid("not a search cursor")
        return position
    except CursorInvalid:
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


def _bundle(
    params: list[tuple[str, str]],
    fhir: FhirServing,
    principal: Principal,
    query: SearchRequest,
    page: SearchPage,
    offset: int,
    entries: list[Entry],
) -> dict[str, Any]:
    base, resource_type = fhir.fhir_base, query.resource_type
    kept = [(k, v) for k, v in params if k != "_cursor" and k not in query.ignored]
    self_url = f"{base}/{resource_type}" + (f"?{urlencode(kept)}" if kept else "")
    next_url = None
    position = next_position(page, offset)
    if query.summary != "count" and position is not None:
        fingerprint = query_fingerprint(resource_type, query.fingerprint_params)
        cursor = encode_cursor(
            fhir.cursor_key, principal.binding, fingerprint, position, int(fhir.clock())
        )
        next_url = f"{base}/{resource_type}?{urlencode([*kept, ('_cursor', cursor)])}"
    total = page.total if page.counted_all else None  # the gateway's later pages
    bundle = searchset(entries, total, self_url, next_url, base)
    if query.ignored:
        outcome = {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",  # every searchset entry has one
            "resource": ignored_outcome(query.ignored),
            "search": {"mode": "outcome"},
        }
        bundle.setdefault("entry", []).append(outcome)
    return bundle


def next_position(page: SearchPage, offset: int) -> int | None:
    """Where the next page starts: after this page's rows, while the total goes on; an
    adapter that could not count every match (the gateway) names the position itself."""
    if not page.counted_all:
        return page.next_offset
    position = offset + len(page.rows)
    return position if position < page.total else None


def _entry_body(body: Body, query: SearchRequest) -> Any:
    if query.elements or query.summary in {"true", "text", "data"}:
        resource = body if isinstance(body, dict) else orjson.loads(body)
        return project(resource, query.elements, query.summary)
    return orjson.Fragment(body) if isinstance(body, bytes) else body
