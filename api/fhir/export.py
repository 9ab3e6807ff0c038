"""Bulk Data `$export` routes (Bulk Data Access IG v2): kick-off, status, files, cancel.

Kick-off needs `Prefer: respond-async`, the `export` scope and a system/ read scope for
every exported type; the job runs in the background (see export_jobs). Status polls,
downloads and cancels answer only the token subject, issuer and client that started the job
(anyone else gets 404, as if the job did not exist), and only while that token still holds
the job's grant (`api.fhir.export_access`; otherwise 403). Every kick-off, poll, download and
cancel is one access event (actions export, export.status, export.download, export.cancel).
"""

import asyncio
import re
import uuid
from email.utils import formatdate

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, Response

from api.data.indexing import SEARCH_PARAMS
from api.errors import (
    ExportStorageMissing,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooManyRequests,
)
from api.fhir.export_access import collect_verdict, required_scope
from api.fhir.export_jobs import RETENTION_S, ExportJobs
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
from api.fhir.search import resource_satisfies, valid_id
from api.fhir.serving import Exporting, ExportServices, FhirServices, FhirServing
from api.http.deps import CurrentPrincipal, audit, target
from api.http.outcomes import FhirResponse, operation_outcome, outcome_response
from api.security.access import COMPARTMENT_TYPES, AccessPlan, PatientReach, Reach
from api.security.disclosure import Disclosure
from api.security.principal import Principal
from api.security.redaction import fields_to_redact
from api.security.verdict import ALLOWED, Verdict, allow, deny, partial
from evidence.core import ReasonCode

router = APIRouter(prefix="/fhir")
MAX_RUNNING_PER_OWNER = 4  # more concurrent jobs of one subject answer 429
NDJSON = "application/fhir+ndjson"
_FILE_RE = re.compile(r"^([A-Z][A-Za-z]{1,63})\.ndjson$")
GRANTED = allow(ReasonCode.SCOPE_GRANTED, ReasonCode.SYSTEM_ACCESS)
REFUSED = deny(ReasonCode.EXPORT_NOT_PERMITTED, ReasonCode.SCOPE_INSUFFICIENT)
EXPORT_FAILED = deny(ReasonCode.DEPENDENCY_FAILED)
WITHHELD = partial(ReasonCode.LABEL_WITHHELD)


@router.get("/Patient/$export", dependencies=[Depends(target("export", "Patient"))])
async def export_patients(
    request: Request, principal: CurrentPrincipal, fhir: FhirServices, exports: ExportServices
) -> Response:
    return await _kick_off(request, fhir, exports, principal, "")


@router.get("/Group/{group_id}/$export", dependencies=[Depends(target("export", "Group"))])
async def export_group(
    request: Request,
    group_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
    exports: ExportServices,
) -> Response:
    return await _kick_off(request, fhir, exports, principal, group_id)


async def _kick_off(
    request: Request, fhir: FhirServing, exports: Exporting, principal: Principal, group_id: str
) -> Response:
    items = list(request.query_params.multi_items())
    audit(request).asked(name for name, _ in items)
    check_prefer(request.headers.get("prefer", ""))
    check_accept(request.headers.get("accept", ""))
    params = parse_export_params(items, SEARCH_PARAMS.keys())
    grant = _authorize(request, principal, params, bool(group_id))
    patients = _group_patients(request, fhir, group_id, grant) if group_id else None
    jobs = _jobs(exports, kick_off=True)
    if jobs.running_for((principal.sub, principal.issuer)) >= MAX_RUNNING_PER_OWNER:
        raise TooManyRequests(retry_after_s=30)
    await asyncio.to_thread(jobs.sweep, fhir.clock())
    job = jobs.start(_new_job(request, fhir, exports, principal, params, grant, group_id,
                              patients))  # fmt: skip
    audit(request).conclude(ALLOWED)
    body = operation_outcome("information", "informational", "Export started; poll its status.")
    location = status_url(fhir.fhir_base, job.id)
    return FhirResponse(body, status_code=202, headers={"Content-Location": location})


def _authorize(
    request: Request, principal: Principal, params: ExportParams, group: bool
) -> ExportGrant:
    """The export grant (recorded as the request's), or Forbidden carrying the refusal."""
    if group and not set(params.types) <= COMPARTMENT_TYPES:
        raise InvalidRequest("A group export covers patient compartment types only.")
    candidates = candidate_types(SEARCH_PARAMS.keys(), group)
    grant = authorize_export(principal, params.types, candidates, group)
    if not grant.granted:
        raise Forbidden(
            "The access token does not permit this export.",
            reason=ReasonCode.EXPORT_NOT_PERMITTED,
            required_scope=grant.required_scope(),
            verdict=REFUSED,
        )
    audit(request).target("export", ",".join(grant.types))
    audit(request).granted(GRANTED, grant.scopes_used)
    return grant


def _group_patients(
    request: Request, fhir: FhirServing, group_id: str, grant: ExportGrant
) -> tuple[str, ...]:
    stored = fhir.data.read("Group", group_id) if valid_id(group_id) else None
    body = stored.as_dict() if stored is not None else {}
    hidden = stored is None or bool(stored.labels & grant.hidden_labels)
    if hidden or not resource_satisfies(body, grant.constraints.get("Group", ())):
        raise NotFound("Group not found.")
    audit(request).subject(f"Group/{group_id}")
    return group_members(body)


def _new_job(
    request: Request,
    fhir: FhirServing,
    exports: Exporting,
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
        owner_client=principal.client_id,
        request_url=f"{exports.base_url}{request.url.path}" + (f"?{query}" if query else ""),
        transaction_time=fhir.now_iso(),
        types=grant.types,
        hidden_labels=tuple(sorted(grant.hidden_labels)),
        created_at=fhir.clock(),
        since=params.since,
        group_id=group_id,
        patient_ids=patients,
        constraints={t: c for t, c in grant.constraints.items() if t in grant.types},
        redactions=_redactions(fhir, principal, grant.types),
    )


def _redactions(
    fhir: FhirServing, principal: Principal, types: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """The same minimum-necessary rule as reads: without `demographics`, contact details
    leave the export too (system scopes have no own-record exemption)."""
    plan_all = AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())
    chosen = {
        t: fields_to_redact(plan_all, principal.known_scopes, t, "", fhir.redactions) for t in types
    }
    return {t: fields for t, fields in chosen.items() if fields}


def _jobs(exports: Exporting, kick_off: bool = False) -> ExportJobs:
    """The export jobs, or a refusal when no storage every replica shares was configured
    (a kick-off says why; a job id can then name no job)."""
    if exports.jobs is not None:
        return exports.jobs
    if kick_off:
        raise ExportStorageMissing()
    raise NotFound("No such export job.")


def _owned_job(
    request: Request, fhir: FhirServing, jobs: ExportJobs, principal: Principal, job_id: str,
    action: str,
) -> ExportJob:  # fmt: skip
    """The job, when the caller started it (same subject, issuer and client; otherwise 404,
    never revealing others' jobs) and its token still holds the job's grant (otherwise 403,
    `api.fhir.export_access`): every poll, download and cancel is authorized anew."""
    job = jobs.store.load(job_id)
    if job is None or not job.owned_by(principal):
        raise NotFound("No such export job.")
    audit(request).target(action, ",".join(job.types))
    verdict, scopes = collect_verdict(principal, job, _redactions(fhir, principal, job.types))
    if verdict.denies:
        raise Forbidden(
            "The access token does not permit collecting this export.",
            reason=ReasonCode.EXPORT_NOT_PERMITTED,
            required_scope=required_scope(job),
            verdict=verdict,
        )
    audit(request).granted(verdict, scopes)
    return job


@router.get("/$export-status/{job_id}", dependencies=[Depends(target("export.status"))])
async def export_status(
    request: Request,
    job_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
    exports: ExportServices,
) -> Response:
    jobs = _jobs(exports)
    job = _owned_job(request, fhir, jobs, principal, job_id, "export.status")
    job = jobs.resume_if_stalled(job)
    if job.status == IN_PROGRESS:
        audit(request).conclude(ALLOWED)
        progress = jobs.progress(job.id) or "in progress"
        return Response(status_code=202, headers={"X-Progress": progress, "Retry-After": "1"})
    if job.status == FAILED:
        audit(request).conclude(EXPORT_FAILED)
        return outcome_response(500, "exception", "The export failed; start a new export.")
    return _manifest_response(request, fhir, job)


def _manifest_response(request: Request, fhir: FhirServing, job: ExportJob) -> Response:
    returned, withheld = totals(job)
    verdict: Verdict = WITHHELD if withheld else ALLOWED
    audit(request).conclude(verdict, Disclosure(returned=returned, withheld=withheld))
    body = manifest(job, fhir.fhir_base)
    expires = formatdate(job.finished_at + RETENTION_S, usegmt=True)
    return Response(orjson.dumps(body), media_type="application/json", headers={"Expires": expires})


@router.delete("/$export-status/{job_id}", dependencies=[Depends(target("export.cancel"))])
async def export_cancel(
    request: Request,
    job_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
    exports: ExportServices,
) -> Response:
    jobs = _jobs(exports)
    job = _owned_job(request, fhir, jobs, principal, job_id, "export.cancel")
    await jobs.cancel(job.id)
    audit(request).conclude(ALLOWED)
    body = operation_outcome("information", "informational", "The export job was removed.")
    return FhirResponse(body, status_code=202)


@router.get("/$export-file/{job_id}/{file_name}", dependencies=[Depends(target("export.download"))])
async def export_file(
    request: Request,
    job_id: str,
    file_name: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
    exports: ExportServices,
) -> Response:
    jobs = _jobs(exports)
    job = _owned_job(request, fhir, jobs, principal, job_id, "export.download")
    match = _FILE_RE.match(file_name)
    output = job.output(match.group(1)) if match and job.status == COMPLETED else None
    if output is None:
        raise NotFound("No such export file.")
    audit(request).target("export.download", output.type)
    patients = await asyncio.to_thread(jobs.store.patients, job.id, output.type)
    audit(request).conclude(ALLOWED, Disclosure(patient_ids=frozenset(patients),
                                                returned=output.count))  # fmt: skip
    return FileResponse(jobs.store.ndjson(job.id, output.type), media_type=NDJSON)
