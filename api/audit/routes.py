"""Auditor routes (the contract's auditor API). Each read is itself audited like any other
request.

The access lists take the filters of `api.audit.filters` and page newest first with signed
cursors; with `_format=ndjson|csv` (or the matching Accept) they stream every matching row.
"""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.activity import activity_body, activity_period
from api.audit.alerts import alert_view
from api.audit.disclosures import disclosure_filter, disclosure_view, period_start_us
from api.audit.exports import export_format, stream_export
from api.audit.filters import access_filter, filter_key, multi_params, with_axis
from api.audit.lifecycle import lifecycle
from api.audit.paging import (
    after_cursor,
    auditor,
    json_response,
    page_body,
    staff_auditor,
    window,
)
from api.audit.tabular import ACCESS_COLUMNS, DISCLOSURE_COLUMNS
from api.audit.views import access_view, iso_from_us, parse_instant_us
from api.boot.checkpointing import verify_evidence
from api.errors import Forbidden, InvalidRequest, NotFound
from api.http.deps import Services, audit
from api.security.principal import Principal
from evidence.core import ReasonCode
from evidence.store.access_query import AccessFilter, alerts_for_request, find_accesses
from evidence.store.activity_query import break_glass_uses, hourly_activity

router = APIRouter(prefix="/audit")
View = Callable[[dict[str, Any]], dict[str, Any]]


def _patient_auditor(request: Request, patient_id: str, action: str) -> tuple[Services, Principal]:
    """An auditor, or a patient-context token asking about its own patient only."""
    svc, principal, patient_only = auditor(request, action)
    audit(request).patient_ids.add(patient_id)
    if patient_only and principal.patient != patient_id:
        raise Forbidden(
            "Patient-context tokens may read only their own disclosures.",
            reason=ReasonCode.COMPARTMENT_OUTSIDE,
        )
    return svc, principal


def _filters(request: Request) -> tuple[AccessFilter, int]:
    since, until, limit = window(request)
    items = request.query_params.multi_items()
    audit(request).query_params = sorted({name for name, _ in items})
    return access_filter(multi_params(items), since, until), limit


def _principal_filter(request: Request) -> str:
    """`principal`: only the accesses of this subject (a patient's accesses, disclosures)."""
    sub = request.query_params.get("principal", "").strip()
    if len(sub) > 200:
        raise InvalidRequest("principal is too long.")
    return sub


async def _page(
    request: Request, svc: Services, principal: Principal, f: AccessFilter, limit: int,
    name: str, view: View,
) -> dict[str, Any]:  # fmt: skip
    key = filter_key(f"audit.{name}", f)
    after = after_cursor(svc, request, principal, key)
    rows = await run_in_threadpool(find_accesses, svc.store, f, limit, after)
    return page_body(svc, request, principal, key, rows, limit, name=name, view=view)


@router.get("/patients/{patient_id}/accesses")
async def patient_accesses(request: Request, patient_id: str) -> Response:
    svc, principal = _patient_auditor(request, patient_id, "audit.patient_accesses")
    base, limit = _filters(request)
    patient_hash = svc.pseudonymizer.patient(patient_id)
    f = with_axis(base, patient_hash=patient_hash, sub=_principal_filter(request))
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, svc, f, fmt, access_view, ACCESS_COLUMNS,
                                   "patient-accesses")  # fmt: skip
    body = await _page(request, svc, principal, f, limit, "accesses", access_view)
    return json_response({"patient": patient_id, "patient_pseudonym": patient_hash, **body})


@router.get("/principals/{sub}/accesses")
async def principal_accesses(request: Request, sub: str) -> Response:
    svc, principal = staff_auditor(request, "audit.principal_accesses")
    base, limit = _filters(request)
    f = with_axis(base, sub=sub)
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, svc, f, fmt, access_view, ACCESS_COLUMNS,
                                   "principal-accesses")  # fmt: skip
    body = await _page(request, svc, principal, f, limit, "accesses", access_view)
    return json_response({"principal": sub, **body})


@router.get("/principals/{sub}/activity")
async def principal_activity(request: Request, sub: str) -> Response:
    """Hourly counts (distinct patients, requests, denials, break-glass) against the
    principal's baseline; see `api.audit.activity`."""
    svc, _principal = staff_auditor(request, "audit.principal_activity")
    q = request.query_params
    audit(request).query_params = sorted(set(q.keys()))
    now_us = int(svc.clock() * 1_000_000)
    since, until = (parse_instant_us(q[n], 0) if q.get(n) else None for n in ("since", "until"))
    period = activity_period(since, until, now_us)
    rows = await run_in_threadpool(
        hourly_activity, svc.store, sub, period.baseline_start_us, period.end_us
    )
    uses = await run_in_threadpool(break_glass_uses, svc.store, sub, period.start_us,
                                   period.end_us)  # fmt: skip
    body = activity_body(sub, period, rows, uses)
    audit(request).count_returned = len(body["buckets"])
    return json_response(body)


@router.get("/patients/{patient_id}/disclosures")
async def patient_disclosures(request: Request, patient_id: str) -> Response:
    """Accounting of disclosures (45 CFR 164.528), by default over the last six years."""
    svc, principal = _patient_auditor(request, patient_id, "audit.patient_disclosures")
    now_us = int(svc.clock() * 1_000_000)
    since, until, limit = window(request, period_start_us(now_us), now_us)
    include_audit = request.query_params.get("include_audit", "false").lower()
    if include_audit not in ("true", "false"):
        raise InvalidRequest("include_audit must be true or false.")
    audit(request).query_params = sorted(set(request.query_params.keys()))
    patient_hash = svc.pseudonymizer.patient(patient_id)
    window_filter = AccessFilter(
        since_us=since, until_us=until, patient_hash=patient_hash, sub=_principal_filter(request)
    )
    f = disclosure_filter(window_filter, include_audit == "true")
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, svc, f, fmt, disclosure_view, DISCLOSURE_COLUMNS,
                                   "disclosures")  # fmt: skip
    body = await _page(request, svc, principal, f, limit, "disclosures", disclosure_view)
    header = {
        "patient": patient_id,
        "patient_pseudonym": patient_hash,
        "period": {"start": iso_from_us(since), "end": iso_from_us(until)},
        "generated_at": iso_from_us(now_us),
        "standard": "45 CFR 164.528 accounting of disclosures",
    }
    return json_response({**header, **body})


@router.get("/requests/{request_id}")
async def request_lifecycle(request: Request, request_id: str) -> Response:
    svc, _principal = staff_auditor(request, "audit.request")
    request_id = request_id[:128]
    rows = await run_in_threadpool(svc.store.request_events, request_id)
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    alerts = await run_in_threadpool(alerts_for_request, svc.store, request_id)
    audit(request).count_returned = len(rows)
    views = [alert_view(a) for a in alerts]
    return json_response(lifecycle(request_id, rows, views, svc.settings.base_url))


@router.get("/verify")
async def verify(request: Request) -> Response:
    svc, _principal = staff_auditor(request, "audit.verify")
    since, until, _limit = window(request)
    report = await run_in_threadpool(
        verify_evidence, svc.settings, svc.store, svc.checkpoint_jwks, since, until
    )
    audit(request).count_returned = report.events_checked
    return json_response(report.as_dict())
