"""Auditor routes (contract section 8). Each read is itself audited like any other request."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.views import access_view, parse_instant_us
from api.errors import Forbidden, InvalidRequest, NotFound
from api.fhir.responses import FhirResponse
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor
from api.security.principal import Principal
from api.services import Services, audit, services
from evidence.core import ReasonCode
from evidence.store.verification import verify_store

router = APIRouter(prefix="/audit")
PAGE_DEFAULT = 100
PAGE_MAX = 1000
FOREVER_US = 2**62


def _auditor(request: Request, action: str) -> tuple[Services, Principal, bool]:
    """Authenticate and authorize an auditor; returns whether only patient scopes granted."""
    audit(request).target(action, "AuditEvent")
    svc = services(request)
    principal = svc.guard.authenticate(request)
    plan = svc.guard.authorize(request, principal, "AuditEvent", "search")
    contexts = {s.context for s in principal.scopes if s.raw in plan.scopes_used}
    return svc, principal, contexts == {"patient"}


def _window(request: Request) -> tuple[int, int, int]:
    q = request.query_params
    since = parse_instant_us(q.get("since"), 0)
    until = parse_instant_us(q.get("until"), FOREVER_US)
    count = q.get("_count", str(PAGE_DEFAULT))
    if not count.isdigit():
        raise InvalidRequest("_count must be a non-negative integer.")
    return since, until, min(int(count), PAGE_MAX)


def _after(
    svc: Services, request: Request, principal: Principal, key: str
) -> tuple[int, str] | None:
    token = request.query_params.get("_cursor")
    if not token:
        return None
    try:
        position = decode_cursor(svc.cursor_key, token, principal.binding, key, int(svc.clock()))
        ts, _, event_id = str(position).partition(":")
        return int(ts), event_id
    except (CursorInvalid, ValueError):
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


def _page(
    svc: Services,
    request: Request,
    principal: Principal,
    key: str,
    rows: list[dict[str, Any]],
    limit: int,
) -> dict[str, Any]:
    record = audit(request)
    record.count_returned = len(rows)
    body: dict[str, Any] = {"accesses": [access_view(row) for row in rows]}
    if rows and len(rows) == limit:
        last = rows[-1]
        position = f"{int(last['ts_us'])}:{last['event_id']}"
        cursor = encode_cursor(svc.cursor_key, principal.binding, key, position, int(svc.clock()))
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        body["next"] = f"{svc.settings.base_url}{request.url.path}?" + urlencode(
            [*kept, ("_cursor", cursor)]
        )
    return body


def _json(body: dict[str, Any]) -> Response:
    return FhirResponse(body, media_type="application/json")


@router.get("/patients/{patient_id}/accesses")
async def patient_accesses(request: Request, patient_id: str) -> Response:
    svc, principal, patient_only = _auditor(request, "audit.patient_accesses")
    audit(request).patient_ids.add(patient_id)
    if patient_only and principal.patient != patient_id:
        raise Forbidden(
            "Patient-context tokens may read only their own disclosures.",
            reason=ReasonCode.COMPARTMENT_OUTSIDE,
        )
    since, until, limit = _window(request)
    patient_hash = svc.pseudonymizer.patient(patient_id)
    key = f"patient:{patient_hash}:{since}:{until}"
    after = _after(svc, request, principal, key)
    rows = await run_in_threadpool(
        svc.store.accesses_by_patient, patient_hash, since, until, limit, after
    )
    body = _page(svc, request, principal, key, rows, limit)
    return _json({"patient": patient_id, "patient_pseudonym": patient_hash, **body})


@router.get("/principals/{sub}/accesses")
async def principal_accesses(request: Request, sub: str) -> Response:
    svc, principal, patient_only = _auditor(request, "audit.principal_accesses")
    if patient_only:
        raise Forbidden()
    since, until, limit = _window(request)
    key = f"principal:{sub}:{since}:{until}"
    after = _after(svc, request, principal, key)
    rows = await run_in_threadpool(svc.store.accesses_by_principal, sub, since, until, limit, after)
    return _json({"principal": sub, **_page(svc, request, principal, key, rows, limit)})


@router.get("/requests/{request_id}")
async def request_lifecycle(request: Request, request_id: str) -> Response:
    svc, _principal, patient_only = _auditor(request, "audit.request")
    if patient_only:
        raise Forbidden()
    rows = await run_in_threadpool(svc.store.request_events, request_id[:128])
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    audit(request).count_returned = len(rows)
    views = [access_view(row) for row in rows]
    return _json({"request_id": request_id, "events": views, **views[0]})


@router.get("/verify")
async def verify(request: Request) -> Response:
    svc, _principal, patient_only = _auditor(request, "audit.verify")
    if patient_only:
        raise Forbidden()
    since, until, _limit = _window(request)
    report = await run_in_threadpool(verify_store, svc.store, since, until)
    audit(request).count_returned = report.events_checked
    return _json(report.as_dict())
