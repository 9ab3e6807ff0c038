"""Auditor routes (the contract's auditor API). Each read is itself audited like any other
request.

The access lists take the filters of `api.audit.filters` and page newest first with signed
cursors; with `_format=ndjson|csv` (or the matching Accept) they stream every matching row.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from api.audit.access import Auditor, AuditorReading, StaffReading
from api.audit.activity import activity_body, activity_period
from api.audit.alerts import alert_view
from api.audit.disclosures import disclosure_filter, disclosure_view, period_start_us
from api.audit.exports import export_format, stream_export
from api.audit.filters import access_filter, filter_key, multi_params, with_axis
from api.audit.lifecycle import lifecycle
from api.audit.own_view import own_patient_row
from api.audit.paging import after_cursor, answered, json_response, page_body, window
from api.audit.serving import Auditing, AuditServices
from api.audit.tabular import ACCESS_COLUMNS, DISCLOSURE_COLUMNS
from api.audit.views import access_view, iso_from_us, parse_instant_us
from api.errors import Forbidden, InvalidRequest, NotFound
from api.http.caller_text import bounded
from api.http.deps import audit, target
from api.security.audit_reach import Confined
from api.security.principal import Principal
from evidence.core import ReasonCode
from evidence.core.queries import AccessFilter


class AnySub(Convertor[str]):
    """Any text at all, line breaks included (starlette's `path` stops at a newline), so a
    principal whose `sub` holds one is reachable through the path form too."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anysub", AnySub())

router = APIRouter(prefix="/audit")
View = Callable[[dict[str, Any]], dict[str, Any]]


def _audit_target(action: str) -> list[Any]:
    return [Depends(target(action, "AuditEvent"))]


def _about_patient(request: Request, auditor: Auditor, patient_id: str) -> Confined:
    """The patient's evidence (narrowed by `principal`), within the token's AuditEvent
    scopes: a patient's own token, or a scope naming this patient or an agent, or 403."""
    audit(request).subject(patient_id=patient_id)
    return auditor.confined(patient=patient_id, agent=_principal_filter(request))


def _shown(auditing: Auditing, confined: Confined, view: View) -> View:
    """`view`, of the row as the token may see it: a token confined to one patient sees
    nothing of the other patients a request touched (`api.audit.own_view`)."""
    if not confined.own_patient:
        return view
    own = auditing.pseudonymizer.patient(confined.own_patient)
    return lambda row: view(own_patient_row(row, own))


def _patient_hash(auditing: Auditing, confined: Confined) -> str:
    return auditing.pseudonymizer.patient(confined.patient) if confined.patient else ""


def _filters(request: Request) -> tuple[AccessFilter, int]:
    since, until, limit = window(request)
    items = request.query_params.multi_items()
    audit(request).asked(name for name, _ in items)
    return access_filter(multi_params(items), since, until), limit


def _principal_filter(request: Request) -> str:
    """`principal`: only the accesses of this subject (a patient's accesses, disclosures)."""
    sub = request.query_params.get("principal", "").strip()
    if len(sub) > 200:
        raise InvalidRequest("principal is too long.")
    return sub


async def _page(
    request: Request, auditing: Auditing, principal: Principal, f: AccessFilter, limit: int,
    name: str, view: View,
) -> dict[str, Any]:  # fmt: skip
    key = filter_key(f"audit.{name}", f)
    after = after_cursor(auditing, request, principal, key)
    rows = await run_in_threadpool(auditing.evidence.find_accesses, f, limit, after)
    return page_body(auditing, request, principal, key, rows, limit, name=name, view=view)


@router.get("/patients/{patient_id}/accesses",
            dependencies=_audit_target("audit.patient_accesses"))  # fmt: skip
async def patient_accesses(
    request: Request, patient_id: str, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    confined = _about_patient(request, auditor, patient_id)
    base, limit = _filters(request)
    patient_hash = _patient_hash(auditing, confined)
    f = with_axis(base, patient_hash=patient_hash, sub=confined.agent)
    view = _shown(auditing, confined, access_view)
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, auditing, f, fmt, view, ACCESS_COLUMNS,
                                   "patient-accesses")  # fmt: skip
    body = await _page(request, auditing, auditor.principal, f, limit, "accesses", view)
    return json_response({"patient": patient_id, "patient_pseudonym": patient_hash, **body})


@router.get("/principals/accesses",
            dependencies=_audit_target("audit.principal_accesses"))  # fmt: skip
async def principal_accesses_by_query(
    request: Request, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    """The same as the path form, for any `sub` (`?sub=`, percent-encoded as usual)."""
    return await _principal_accesses(request, _sub(request.query_params.get("sub")), auditor,
                                     auditing)  # fmt: skip


@router.get("/principals/activity",
            dependencies=_audit_target("audit.principal_activity"))  # fmt: skip
async def principal_activity_by_query(
    request: Request, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    sub = _sub(request.query_params.get("sub"))
    return await _principal_activity(request, sub, auditor, auditing)


@router.get("/principals/{sub:anysub}/accesses",
            dependencies=_audit_target("audit.principal_accesses"))  # fmt: skip
async def principal_accesses(
    request: Request, sub: str, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    """`sub` is the rest of the path, percent-decoded once: a `/` in it may be sent as is or
    as %2F; `.` and `..` (which clients collapse) as %2E."""
    return await _principal_accesses(request, _path_sub(request, sub, "/accesses"), auditor,
                                     auditing)  # fmt: skip


@router.get("/principals/{sub:anysub}/activity",
            dependencies=_audit_target("audit.principal_activity"))  # fmt: skip
async def principal_activity(
    request: Request, sub: str, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    sub = _path_sub(request, sub, "/activity")
    return await _principal_activity(request, sub, auditor, auditing)


MAX_SUB_CHARS = 8192  # a token is at most 8 KiB


def _sub(value: str | None) -> str:
    """Any principal's `sub` as the evidence holds it: non-empty (tokens never carry an
    empty one), at most the size of a token, and bounded as every recorded field is
    (api.http.caller_text.bounded)."""
    if not value:
        raise InvalidRequest("Name the principal: sub is required.")
    if len(value) > MAX_SUB_CHARS:
        raise InvalidRequest("sub is too long.")
    return bounded(value)  # a sub beyond MAX_FIELD is recorded in this bounded form


def _path_sub(request: Request, routed: str, suffix: str) -> str:
    """The `sub` of a path form, decoded exactly once from the path as sent (`raw_path`), so
    that a `%25` in a sub is never decoded twice by whatever decoded the routed path."""
    raw = request.scope.get("raw_path")
    prefix = b"/audit/principals/"
    if (
        not isinstance(raw, bytes)
        or not raw.startswith(prefix)
        or not raw.endswith(suffix.encode())
    ):
        return _sub(routed)
    try:
        return _sub(unquote_to_bytes(raw[len(prefix) : -len(suffix)]).decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("sub must be UTF-8, percent-encoded.") from None


async def _principal_accesses(
    request: Request, sub: str, auditor: Auditor, auditing: Auditing
) -> Response:
    base, limit = _filters(request)
    confined = auditor.confined(agent=sub)
    f = with_axis(base, patient_hash=_patient_hash(auditing, confined), sub=sub)
    view = _shown(auditing, confined, access_view)
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, auditing, f, fmt, view, ACCESS_COLUMNS,
                                   "principal-accesses")  # fmt: skip
    body = await _page(request, auditing, auditor.principal, f, limit, "accesses", view)
    return json_response({"principal": sub, **body})


async def _principal_activity(
    request: Request, sub: str, auditor: Auditor, auditing: Auditing
) -> Response:
    """Hourly counts (distinct patients, requests, denials, break-glass) against the
    principal's baseline; see `api.audit.activity`. Counts over every patient: a token
    confined to a patient's evidence may not ask."""
    if auditor.confined(agent=sub).patient:
        raise Forbidden("Activity counts every patient; this token reaches one.",
                        reason=ReasonCode.COMPARTMENT_OUTSIDE)  # fmt: skip
    q = request.query_params
    audit(request).asked(q.keys())
    now_us = int(auditing.clock() * 1_000_000)
    since, until = (parse_instant_us(q[n], 0) if q.get(n) else None for n in ("since", "until"))
    period = activity_period(since, until, now_us)
    evidence = auditing.evidence
    rows = await run_in_threadpool(
        evidence.hourly_activity, sub, period.baseline_start_us, period.end_us
    )
    uses = await run_in_threadpool(evidence.break_glass_uses, sub, period.start_us, period.end_us)
    body = activity_body(sub, period, rows, uses)
    answered(request, len(body["buckets"]))
    return json_response(body)


@router.get("/patients/{patient_id}/disclosures",
            dependencies=_audit_target("audit.patient_disclosures"))  # fmt: skip
async def patient_disclosures(
    request: Request, patient_id: str, auditor: AuditorReading, auditing: AuditServices
) -> Response:
    """Accounting of disclosures (45 CFR 164.528), by default over the last six years."""
    confined = _about_patient(request, auditor, patient_id)
    now_us = int(auditing.clock() * 1_000_000)
    since, until, limit = window(request, period_start_us(now_us), now_us)
    include_audit = request.query_params.get("include_audit", "false").lower()
    if include_audit not in ("true", "false"):
        raise InvalidRequest("include_audit must be true or false.")
    audit(request).asked(request.query_params.keys())
    patient_hash = _patient_hash(auditing, confined)
    window_filter = AccessFilter(
        since_us=since, until_us=until, patient_hash=patient_hash, sub=confined.agent
    )
    f = disclosure_filter(window_filter, include_audit == "true")
    view = _shown(auditing, confined, disclosure_view)
    fmt = export_format(request)
    if fmt != "json":
        return await stream_export(request, auditing, f, fmt, view, DISCLOSURE_COLUMNS,
                                   "disclosures")  # fmt: skip
    body = await _page(request, auditing, auditor.principal, f, limit, "disclosures", view)
    header = {
        "patient": patient_id,
        "patient_pseudonym": patient_hash,
        "period": {"start": iso_from_us(since), "end": iso_from_us(until)},
        "generated_at": iso_from_us(now_us),
        "standard": "45 CFR 164.528 accounting of disclosures",
    }
    return json_response({**header, **body})


@router.get("/requests/{request_id}", dependencies=_audit_target("audit.request"))
async def request_lifecycle(
    request: Request, request_id: str, _auditor: StaffReading, auditing: AuditServices
) -> Response:
    request_id = request_id[:128]
    rows = await run_in_threadpool(auditing.evidence.request_events, request_id)
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    alerts = await run_in_threadpool(auditing.evidence.alerts_for_request, request_id)
    answered(request, len(rows))
    views = [alert_view(a) for a in alerts]
    return json_response(lifecycle(request_id, rows, views, auditing.base_url))


@router.get("/verify", dependencies=_audit_target("audit.verify"))
async def verify(request: Request, _auditor: StaffReading, auditing: AuditServices) -> Response:
    since, until, _limit = window(request)
    report = await run_in_threadpool(auditing.evidence.verify, since, until)
    answered(request, report.events_checked)
    return json_response(report.as_dict())
