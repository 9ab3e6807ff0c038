"""Bulk Data `$export` routes (Bulk Data Access IG v2): kick-off, status, files, cancel.

Kick-off needs `Prefer: respond-async`, the `export` scope and a system/ read scope for
every exported type; the job runs in the background (see export_jobs). Status polls,
downloads and cancels answer only the token subject (and issuer) that started the job:
anyone else gets 404, as if the job did not exist. Every kick-off, poll, download and
cancel is one access event (actions export, export.status, export.download, export.cancel).
"""

import asyncio
import re
import uuid
from email.utils import formatdate

import orjson
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from api.data.indexing import SEARCH_PARAMS
from api.errors import Forbidden, InvalidRequest, NotFound, TooManyRequests
from api.fhir.export_jobs import RETENTION_S, ExportJobs, JobStore
from api.fhir.export_params import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    ExportGrant,
    ExportJob,
    ExportParams,
    authorize_export,
    candidate_types,
    check_accept,
    check_prefer,
    group_members,
    manifest,
    parse_export_params,
    status_url,
    totals,
)
from api.fhir.responses import FhirResponse, operation_outcome, outcome_response
from api.fhir.search import resource_satisfies, valid_id
from api.http.deps import Services, audit, services
from api.security.access import COMPARTMENT_TYPES, AccessPlan, PatientReach, Reach
from api.security.principal import Principal
from api.security.redaction import fields_to_redact
from evidence.core import Decision, ReasonCode

router = APIRouter(prefix="/fhir")
MAX_RUNNING_PER_OWNER = 4  # more concurrent jobs of one subject answer 429
NDJSON = "application/fhir+ndjson"
_FILE_RE = re.compile(r"^([A-Z][A-Za-z]{1,63})\.ndjson$")


def export_jobs(request: Request) -> ExportJobs:
    """The app's job coordinator, made on first use (jobs on disk outlive the process)."""
    state = request.app.state
    jobs = getattr(state, "export_jobs", None)
    if jobs is None:
        svc = services(request)
        jobs = ExportJobs(JobStore(svc.settings.data_dir / "exports"), svc.repository, svc.clock)
        state.export_jobs = jobs
    return jobs


@router.get("/Patient/$export")
async def export_patients(request: Request) -> Response:
    return await _kick_off(request, "")


@router.get("/Group/{group_id}/$export")
async def export_group(request: Request, group_id: str) -> Response:
    return await _kick_off(request, group_id)


async def _kick_off(request: Request, group_id: str) -> Response:
    record, svc = audit(request), services(request)
    record.target("export", "Group" if group_id else "Patient")
    principal = svc.guard.authenticate(request)
    items = list(request.query_params.multi_items())
    record.query_params = sorted({name for name, _ in items})
    check_prefer(request.headers.get("prefer", ""))
    check_accept(request.headers.get("accept", ""))
    params = parse_export_params(items, SEARCH_PARAMS.keys())
    grant = _authorize(request, principal, params, bool(group_id))
    patients = _group_patients(request, group_id, grant) if group_id else None
    jobs = export_jobs(request)
    if jobs.running_for((principal.sub, principal.issuer)) >= MAX_RUNNING_PER_OWNER:
        raise TooManyRequests(retry_after_s=30)
    await asyncio.to_thread(jobs.sweep, svc.clock())
    job = jobs.start(_new_job(request, svc, principal, params, grant, group_id, patients))
    body = operation_outcome("information", "informational", "Export started; poll its status.")
    location = status_url(svc.settings.fhir_base, job.id)
    return FhirResponse(body, status_code=202, headers={"Content-Location": location})


def _authorize(
    request: Request, principal: Principal, params: ExportParams, group: bool
) -> ExportGrant:
    record = audit(request)
    if group and not set(params.types) <= COMPARTMENT_TYPES:
        raise InvalidRequest("A group export covers patient compartment types only.")
    candidates = candidate_types(SEARCH_PARAMS.keys(), group)
    grant = authorize_export(principal, params.types, candidates, group)
    record.scopes_used = list(grant.scopes_used)
    if not grant.granted:
        record.decide(
            Decision.DENY, str(ReasonCode.EXPORT_NOT_PERMITTED), str(ReasonCode.SCOPE_INSUFFICIENT)
        )
        raise Forbidden(
            "The access token does not permit this export.",
            reason=ReasonCode.EXPORT_NOT_PERMITTED,
            required_scope=grant.required_scope(),
        )
    record.target("export", ",".join(grant.types))
    record.decide(Decision.ALLOW, str(ReasonCode.SCOPE_GRANTED), str(ReasonCode.SYSTEM_ACCESS))
    return grant


def _group_patients(request: Request, group_id: str, grant: ExportGrant) -> tuple[str, ...]:
    repository = services(request).repository
    stored = repository.read("Group", group_id) if valid_id(group_id) else None
    body = stored.as_dict() if stored is not None else {}
    hidden = stored is None or bool(stored.labels & grant.hidden_labels)
    if hidden or not resource_satisfies(body, grant.constraints.get("Group", ())):
        raise NotFound("Group not found.")
    audit(request).resource_ids.append(f"Group/{group_id}")
    return group_members(body)


def _new_job(
    request: Request,
    svc: Services,
    principal: Principal,
    params: ExportParams,
    grant: ExportGrant,
    group_id: str,
    patients: tuple[str, ...] | None,
) -> ExportJob:
    query = request.url.query
    return ExportJob(
        id=uuid.uuid4().hex,
        owner_sub=principal.sub,
        owner_issuer=principal.issuer,
        request_url=f"{svc.settings.base_url}{request.url.path}" + (f"?{query}" if query else ""),
        transaction_time=svc.now_iso(),
        types=grant.types,
        hidden_labels=tuple(sorted(grant.hidden_labels)),
        created_at=svc.clock(),
        since=params.since,
        group_id=group_id,
        patient_ids=patients,
        constraints={t: c for t, c in grant.constraints.items() if t in grant.types},
        redactions=_redactions(svc, principal, grant.types),
    )


def _redactions(
    svc: Services, principal: Principal, types: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """The same minimum-necessary rule as reads: without `demographics`, contact details
    leave the export too (system scopes have no own-record exemption)."""
    plan_all = AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())
    chosen = {
        t: fields_to_redact(plan_all, principal.known_scopes, t, "", svc.redactions) for t in types
    }
    return {t: fields for t, fields in chosen.items() if fields}


def _owned_job(request: Request, job_id: str, action: str) -> tuple[ExportJobs, ExportJob]:
    """The job, when the caller started it; otherwise 404 (never reveal others' jobs)."""
    record, svc = audit(request), services(request)
    record.target(action)
    principal = svc.guard.authenticate(request)
    jobs = export_jobs(request)
    job = jobs.store.load(job_id)
    if job is None or not job.owned_by(principal):
        raise NotFound("No such export job.")
    record.target(action, ",".join(job.types))
    record.decide(Decision.ALLOW)
    return jobs, job


@router.get("/$export-status/{job_id}")
async def export_status(request: Request, job_id: str) -> Response:
    jobs, job = _owned_job(request, job_id, "export.status")
    job = jobs.resume_if_stalled(job)
    if job.status == IN_PROGRESS:
        progress = jobs.progress(job.id) or "in progress"
        return Response(status_code=202, headers={"X-Progress": progress, "Retry-After": "1"})
    if job.status == FAILED:
        audit(request).decide(Decision.DENY, str(ReasonCode.DEPENDENCY_FAILED))
        return outcome_response(500, "exception", "The export failed; start a new export.")
    return _manifest_response(request, job)


def _manifest_response(request: Request, job: ExportJob) -> Response:
    record = audit(request)
    record.count_returned, record.count_withheld = totals(job)
    if record.count_withheld:
        record.decide(Decision.PARTIAL, str(ReasonCode.LABEL_WITHHELD))
    body = manifest(job, services(request).settings.fhir_base)
    expires = formatdate(job.finished_at + RETENTION_S, usegmt=True)
    return Response(orjson.dumps(body), media_type="application/json", headers={"Expires": expires})


@router.delete("/$export-status/{job_id}")
async def export_cancel(request: Request, job_id: str) -> Response:
    jobs, job = _owned_job(request, job_id, "export.cancel")
    await jobs.cancel(job.id)
    body = operation_outcome("information", "informational", "The export job was removed.")
    return FhirResponse(body, status_code=202)


@router.get("/$export-file/{job_id}/{file_name}")
async def export_file(request: Request, job_id: str, file_name: str) -> Response:
    jobs, job = _owned_job(request, job_id, "export.download")
    match = _FILE_RE.match(file_name)
    output = job.output(match.group(1)) if match and job.status == COMPLETED else None
    if output is None:
        raise NotFound("No such export file.")
    record = audit(request)
    record.target("export.download", output.type)
    record.count_returned = output.count
    record.patient_ids.update(await asyncio.to_thread(jobs.store.patients, job.id, output.type))
    return FileResponse(jobs.store.ndjson(job.id, output.type), media_type=NDJSON)
