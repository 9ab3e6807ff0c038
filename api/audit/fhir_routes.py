"""The FHIR AuditEvent view of the evidence (the contract's auditor API): search (GET and
POST _search) and read, read-only, for holders of an explicit AuditEvent scope. Each of
these requests is recorded like any other (action search/read, resource type AuditEvent)."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.auditevent import Server, auditevent, split_id
from api.audit.auditevent_search import (
    AuditEventSearch,
    Resume,
    decode_resume,
    encode_resume,
    page_parts,
    parse_auditevent_search,
)
from api.audit.filters import filter_key
from api.errors import Forbidden, InvalidRequest, MethodNotAllowed, NotFound, Unauthorized
from api.fhir.responses import FhirResponse, searchset
from api.fhir.search import valid_id
from api.http.deps import Services, audit, services
from api.security.access import AccessPlan
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor
from api.security.principal import Principal
from evidence.core import Decision, ReasonCode
from evidence.store.access_query import AccessFilter, access_event, find_accesses

router = APIRouter(prefix="/fhir")


def _patient_only(principal: Principal, plan: AccessPlan) -> bool:
    return {s.context for s in principal.scopes if s.raw in plan.scopes_used} == {"patient"}


def _confine(principal: Principal, plan: AccessPlan, query: AuditEventSearch) -> str:
    """The patient searched for; a patient-context token sees its own patient only."""
    if not _patient_only(principal, plan):
        return query.patient
    if not principal.patient or query.patient not in ("", principal.patient):
        raise Forbidden(
            "Patient-context tokens may read only their own patient's audit events.",
            reason=ReasonCode.COMPARTMENT_OUTSIDE,
        )
    return principal.patient


def _resume(svc: Services, principal: Principal, key: str, cursor: str) -> Resume | None:
    if not cursor:
        return None
    try:
        position = decode_cursor(svc.cursor_key, cursor, principal.binding, key, int(svc.clock()))
        return decode_resume(str(position))
    except (CursorInvalid, ValueError):
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


@router.get("/AuditEvent")
async def search_get(request: Request) -> Response:
    return await _search(request, list(request.query_params.multi_items()))


@router.post("/AuditEvent/_search")
async def search_post(request: Request) -> Response:
    audit(request).target("search", "AuditEvent")
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if any(name == "access_token" for name, _ in params):  # RFC 6750 body tokens: refused
        audit(request).decide(Decision.DENY, str(ReasonCode.TOKEN_MALFORMED))
        raise Unauthorized(reason=ReasonCode.TOKEN_MALFORMED)
    return await _search(request, params + list(request.query_params.multi_items()))


async def _search(request: Request, params: list[tuple[str, str]]) -> Response:
    svc, record = services(request), audit(request)
    record.target("search", "AuditEvent")
    record.query_params = sorted({name for name, _ in params})
    principal = svc.guard.authenticate(request)
    query = parse_auditevent_search(params)
    plan = svc.guard.authorize(request, principal, "AuditEvent", "search")
    patient = _confine(principal, plan, query)
    if patient:
        record.patient_ids.add(patient)
    patient_hash = svc.pseudonymizer.patient(patient) if patient else ""
    f = AccessFilter(
        since_us=query.since_us,
        until_us=query.until_us,
        patient_hash=patient_hash,
        sub=query.agent,
        entity=svc.pseudonymizer.reference(query.entity) if query.entity else "",
        outcomes=query.outcomes,
    )
    key = filter_key("fhir-auditevent", f)
    resume = _resume(svc, principal, key, query.cursor)
    fetched = query.count + 1 if query.count else 0
    after = (resume[0], resume[1]) if resume else None
    rows = await run_in_threadpool(find_accesses, svc.store, f, fetched, after, True)
    page, following = page_parts(rows, query.count, resume[2] if resume else 0, fetched,
                                 patient_hash)  # fmt: skip
    server = Server(svc.settings.base_url)
    entries = [auditevent(row, server, part) for row, part in page]
    record.count_returned = len(entries)
    base = svc.settings.fhir_base
    self_url = f"{base}/AuditEvent" + (f"?{urlencode(query.kept)}" if query.kept else "")
    next_url = None
    if following is not None:
        cursor = encode_cursor(svc.cursor_key, principal.binding, key,
                               encode_resume(following), int(svc.clock()))  # fmt: skip
        next_url = f"{base}/AuditEvent?{urlencode([*query.kept, ('_cursor', cursor)])}"
    matches = [("AuditEvent", e["id"], e, "match") for e in entries]
    return FhirResponse(searchset(matches, None, self_url, next_url, base))


@router.get("/AuditEvent/{auditevent_id}")
async def read(request: Request, auditevent_id: str) -> Response:
    svc, record = services(request), audit(request)
    record.target("read", "AuditEvent")
    principal = svc.guard.authenticate(request)
    plan = svc.guard.authorize(request, principal, "AuditEvent", "read")
    if not valid_id(auditevent_id):
        raise NotFound()
    record.resource_ids.append(f"AuditEvent/{auditevent_id}")
    event_id, part = split_id(auditevent_id)
    row = await run_in_threadpool(access_event, svc.store, event_id)
    patients = list(row["patient_hashes"]) if row else []
    if row is None or not (part == 0 if len(patients) <= 1 else 1 <= part <= len(patients)):
        raise NotFound()
    if _patient_only(principal, plan):
        own = svc.pseudonymizer.patient(principal.patient) if principal.patient else ""
        if own not in (patients[part - 1 : part] if part else patients):
            record.decide(Decision.DENY, str(ReasonCode.COMPARTMENT_OUTSIDE))
            raise NotFound()
    record.count_returned = 1
    return FhirResponse(auditevent(row, Server(svc.settings.base_url), part))


@router.api_route("/AuditEvent", methods=["POST", "PUT", "PATCH", "DELETE"])
@router.api_route("/AuditEvent/{auditevent_id}", methods=["POST", "PUT", "PATCH", "DELETE"])
async def read_only(request: Request) -> Response:
    """Audit evidence is never written through the FHIR API."""
    action = {"POST": "create", "DELETE": "delete"}.get(request.method, "update")
    audit(request).target(action, "AuditEvent")
    raise MethodNotAllowed("AuditEvent is read-only.")
