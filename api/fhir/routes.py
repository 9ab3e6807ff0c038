"""FHIR read and search routes: thin, every decision recorded in the request's audit."""

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.data.port import SearchPage
from api.errors import InvalidRequest, NotFound, Unauthorized
from api.fhir.discovery import capability_statement, smart_configuration
from api.fhir.includes import collect_included, included_entries, record_included
from api.fhir.projection import project
from api.fhir.responses import FhirResponse, searchset
from api.fhir.search import (
    SearchRequest,
    constraint_alternatives,
    ignored_outcome,
    parse_search,
    valid_id,
)
from api.fhir.visibility import known_type, served_body, visible
from api.http.deps import Services, audit, services
from api.security.access import AccessPlan, Reach
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor, query_fingerprint
from api.security.principal import Principal
from evidence.core import Decision, ReasonCode

router = APIRouter(prefix="/fhir")
PATIENT_PARAMS = frozenset({"patient", "subject", "_id"})
VERSION = "0.1.0"


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    audit(request).decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
    audit(request).target("metadata")
    return FhirResponse(capability_statement(services(request).settings, VERSION))


@router.get("/.well-known/smart-configuration")
async def smart_config(request: Request) -> Response:
    audit(request).decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
    audit(request).target("smart-configuration")
    body = smart_configuration(services(request).settings)
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/{resource_type}/{resource_id}")
async def read(request: Request, resource_type: str, resource_id: str) -> Response:
    return _read(request, resource_type, resource_id, "read", None)


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
async def vread(
    request: Request, resource_type: str, resource_id: str, version_id: str
) -> Response:
    """Only the current version is kept: an older version answers 404 like a missing one."""
    return _read(request, resource_type, resource_id, "vread", version_id)


def _read(
    request: Request, resource_type: str, resource_id: str, action: str, version: str | None
) -> Response:
    known_type(request, action, resource_type)
    svc, record = services(request), audit(request)
    principal = svc.guard.authenticate(request)
    plan = svc.guard.authorize(request, principal, resource_type, action)
    stored = svc.repository.read(resource_type, resource_id) if valid_id(resource_id) else None
    if stored is None:
        record.decide(Decision.DENY, str(ReasonCode.NOT_FOUND))
        raise NotFound()
    record.resource_ids.append(f"{resource_type}/{resource_id}")
    if stored.patient_id:
        record.patient_ids.add(stored.patient_id)
    ok, reasons = visible(svc, plan, stored)
    if not ok:
        record.reasons.clear()
        record.decide(Decision.DENY, *reasons)
        record.count_withheld = 1
        raise NotFound()
    if version is not None and version != str(stored.version_id):
        record.decide(Decision.DENY, str(ReasonCode.NOT_FOUND))
        raise NotFound()
    record.count_returned = 1
    headers = {"ETag": f'W/"{stored.version_id}"'}
    return FhirResponse(served_body(svc, principal, plan, stored, record), headers=headers)


@router.get("/{resource_type}")
async def search_get(request: Request, resource_type: str) -> Response:
    return await run_search(request, resource_type, list(request.query_params.multi_items()))


@router.post("/{resource_type}/_search")
async def search_post(request: Request, resource_type: str) -> Response:
    known_type(request, "search", resource_type)
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if any(name == "access_token" for name, _ in params):  # RFC 6750 body tokens: refused
        audit(request).decide(Decision.DENY, str(ReasonCode.TOKEN_MALFORMED))
        raise Unauthorized(reason=ReasonCode.TOKEN_MALFORMED)
    params += list(request.query_params.multi_items())
    return await run_search(request, resource_type, params)


async def run_search(
    request: Request, resource_type: str, params: list[tuple[str, str]]
) -> Response:
    known_type(request, "search", resource_type)
    svc, record = services(request), audit(request)
    record.query_params = sorted({name for name, _ in params})
    principal = svc.guard.authenticate(request)
    lenient = "handling=lenient" in request.headers.get("prefer", "").replace(" ", "")
    query = parse_search(resource_type, params, lenient=lenient)
    plan = svc.guard.authorize(request, principal, resource_type, "search")
    offset = _offset(svc, principal, resource_type, query)
    limit = 0 if query.summary == "count" else query.count
    names_patients = any(c.param in PATIENT_PARAMS for c in query.criteria)
    page = svc.repository.search(
        resource_type,
        query.criteria,
        plan.reach,
        plan.hidden_labels,
        limit,
        offset,
        count_outside_reach=names_patients,
        alternatives=constraint_alternatives(resource_type, plan.constraints),
        sort=query.sort,
    )
    _record_search(record, plan, page)
    extra: list[tuple[str, str, Any, str]] = []
    if (query.includes or query.revincludes) and page.rows:
        included = collect_included(svc, principal, query, page.rows)
        record_included(record, included)
        extra = included_entries(svc, principal, record, included)
    matches = [
        (
            row.resource_type,
            row.id,
            _entry_body(served_body(svc, principal, plan, row, record), query),
            "match",
        )
        for row in page.rows
    ]
    bundle = _bundle(params, svc, principal, resource_type, query, page, offset, matches + extra)
    return FhirResponse(bundle)


def _offset(svc: Services, principal: Principal, resource_type: str, query: SearchRequest) -> int:
    if not query.cursor:
        return 0
    fingerprint = query_fingerprint(resource_type, query.fingerprint_params)
    try:
        position = decode_cursor(
            svc.cursor_key, query.cursor, principal.binding, fingerprint, int(svc.clock())
        )
        if not isinstance(position, int) or position < 0:
            raise CursorInvalid("not a search cursor")
        return position
    except CursorInvalid:
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


def _record_search(record: Any, plan: AccessPlan, page: SearchPage) -> None:
    record.count_returned = len(page.rows)
    record.count_withheld = page.matching - page.total
    for row in page.rows:
        record.resource_ids.append(f"{row.resource_type}/{row.id}")
        if row.patient_id:
            record.patient_ids.add(row.patient_id)
    reasons = []
    if page.in_reach < page.matching:
        reasons.append(_reach_reason(plan))
    if page.total < page.in_reach:
        reasons.append(str(ReasonCode.LABEL_WITHHELD))
    record.decide(Decision.PARTIAL if reasons else Decision.ALLOW, *reasons)


def _reach_reason(plan: AccessPlan) -> str:
    if plan.reach.kind is Reach.CARE_TEAM:
        return str(ReasonCode.CARETEAM_NOT_MEMBER)
    return str(ReasonCode.COMPARTMENT_OUTSIDE)


def _bundle(
    params: list[tuple[str, str]],
    svc: Services,
    principal: Principal,
    resource_type: str,
    query: SearchRequest,
    page: SearchPage,
    offset: int,
    entries: list[tuple[str, str, Any, str]],
) -> dict[str, Any]:
    base = svc.settings.fhir_base
    kept = [(k, v) for k, v in params if k != "_cursor" and k not in query.ignored]
    self_url = f"{base}/{resource_type}" + (f"?{urlencode(kept)}" if kept else "")
    next_url = None
    if query.summary != "count" and offset + len(page.rows) < page.total:
        fingerprint = query_fingerprint(resource_type, query.fingerprint_params)
        cursor = encode_cursor(
            svc.cursor_key,
            principal.binding,
            fingerprint,
            offset + len(page.rows),
            int(svc.clock()),
        )
        next_url = f"{base}/{resource_type}?{urlencode([*kept, ('_cursor', cursor)])}"
    bundle = searchset(entries, page.total, self_url, next_url, base)
    if query.ignored:
        outcome = {"resource": ignored_outcome(query.ignored), "search": {"mode": "outcome"}}
        bundle.setdefault("entry", []).append(outcome)
    return bundle


def _entry_body(body: bytes | dict[str, Any], query: SearchRequest) -> Any:
    if query.elements or query.summary in {"true", "text", "data"}:
        resource = body if isinstance(body, dict) else orjson.loads(body)
        return project(resource, query.elements, query.summary)
    return orjson.Fragment(body) if isinstance(body, bytes) else body
