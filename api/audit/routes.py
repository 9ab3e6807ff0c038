"""Auditor routes (contract section 8). Each read is itself audited like any other request."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.paging import after_cursor, auditor, page_body, window
from api.audit.views import access_view
from api.errors import Forbidden, NotFound
from api.fhir.responses import FhirResponse
from api.services import audit
from evidence.core import ReasonCode
from evidence.store.verification import verify_store

router = APIRouter(prefix="/audit")


def _json(body: dict[str, Any]) -> Response:
    return FhirResponse(body, media_type="application/json")


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
    return _json({"patient": patient_id, "patient_pseudonym": patient_hash, **body})


@router.get("/principals/{sub}/accesses")
async def principal_accesses(request: Request, sub: str) -> Response:
    svc, principal, patient_only = auditor(request, "audit.principal_accesses")
    if patient_only:
        raise Forbidden()
    since, until, limit = window(request)
    key = f"principal:{sub}:{since}:{until}"
    after = after_cursor(svc, request, principal, key)
    rows = await run_in_threadpool(svc.store.accesses_by_principal, sub, since, until, limit, after)
    return _json({"principal": sub, **page_body(svc, request, principal, key, rows, limit)})


@router.get("/requests/{request_id}")
async def request_lifecycle(request: Request, request_id: str) -> Response:
    svc, _principal, patient_only = auditor(request, "audit.request")
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
    svc, _principal, patient_only = auditor(request, "audit.verify")
    if patient_only:
        raise Forbidden()
    since, until, _limit = window(request)
    report = await run_in_threadpool(verify_store, svc.store, since, until)
    audit(request).count_returned = report.events_checked
    return _json(report.as_dict())
