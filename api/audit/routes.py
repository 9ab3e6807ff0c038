"""Auditor routes (contract section 8). Each read is itself audited like any other request."""

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.paging import (
    after_cursor,
    auditor,
    json_response,
    page_body,
    staff_auditor,
    window,
)
from api.audit.views import access_view
from api.errors import Forbidden, NotFound
from api.services import audit
from evidence.core import ReasonCode
from evidence.store.verification import verify_store

router = APIRouter(prefix="/audit")


@router.get("/patients/{patient_id}/accesses")
async def patient_accesses(request: Request, patient_id: str) -> Response:
    svc, principal, patient_only = auditor(request, "audit.patient_accesses")
    audit(request).patient_ids.add(patient_id)
    if patient_only and principal.patient != patient_id:
        raise Forbidden(
            "Patient-context tokens may read only their own disclosures.",
            reason=ReasonCode.COMPARTMENT_OUTSIDE,
        )
    since, until, limit = window(request)
    patient_hash = svc.pseudonymizer.patient(patient_id)
    key = f"patient:{patient_hash}:{since}:{until}"
    after = after_cursor(svc, request, principal, key)
    rows = await run_in_threadpool(
        svc.store.accesses_by_patient, patient_hash, since, until, limit, after
    )
    body = page_body(svc, request, principal, key, rows, limit)
    return json_response({"patient": patient_id, "patient_pseudonym": patient_hash, **body})


@router.get("/principals/{sub}/accesses")
async def principal_accesses(request: Request, sub: str) -> Response:
    svc, principal = staff_auditor(request, "audit.principal_accesses")
    since, until, limit = window(request)
    key = f"principal:{sub}:{since}:{until}"
    after = after_cursor(svc, request, principal, key)
    rows = await run_in_threadpool(svc.store.accesses_by_principal, sub, since, until, limit, after)
    return json_response({"principal": sub, **page_body(svc, request, principal, key, rows, limit)})


@router.get("/requests/{request_id}")
async def request_lifecycle(request: Request, request_id: str) -> Response:
    svc, _principal = staff_auditor(request, "audit.request")
    rows = await run_in_threadpool(svc.store.request_events, request_id[:128])
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    audit(request).count_returned = len(rows)
    views = [access_view(row) for row in rows]
    return json_response({"request_id": request_id, "events": views, **views[0]})


@router.get("/verify")
async def verify(request: Request) -> Response:
    svc, _principal = staff_auditor(request, "audit.verify")
    since, until, _limit = window(request)
    report = await run_in_threadpool(verify_store, svc.store, since, until)
    audit(request).count_returned = report.events_checked
    return json_response(report.as_dict())
