"""Create, update and delete. Bodies are validated with fhir.resources (R4B) and the
policy is checked for the resource as it is now and as it would be after the write.
A write never returns content the caller could not read.
"""

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.data.indexing import owner_patient
from api.data.port import StoredResource
from api.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    UnprocessableResource,
    UnsupportedMediaType,
)
from api.fhir.responses import FhirResponse
from api.fhir.search import resource_satisfies, valid_id
from api.fhir.visibility import known_type, served_body, visible
from api.http.deps import Services, audit, services
from api.security.access import AccessPlan, Reach, decide_resource
from evidence.core import Decision, ReasonCode

router = APIRouter(prefix="/fhir")


MAX_JSON_DEPTH = 64
JSON_TYPES = ("application/fhir+json", "application/json")


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def validate_body(raw: bytes, resource_type: str, content_type: str) -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not valid JSON.") from None
    if json_depth(body) > MAX_JSON_DEPTH:
        raise InvalidRequest("The body is nested too deeply.")
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise InvalidRequest(f"The body must be a {resource_type} resource.")
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource_type).model_validate(body)
    except (ValueError, TypeError):
        raise UnprocessableResource(f"The body is not a valid FHIR R4 {resource_type}.") from None
    return dict(body)


def _may_write(svc: Services, plan: AccessPlan, resource: dict[str, Any]) -> None:
    """The resource after the write must lie within the caller's patient reach and meet the
    granular-scope constraints, judged on the body itself (it is not stored yet)."""
    owner = owner_patient(resource)
    member = False
    if plan.reach.kind is Reach.CARE_TEAM and owner:
        member = svc.guard.care_team_member(plan.reach.practitioner, owner)
    met = resource_satisfies(resource, plan.constraints)
    decision = decide_resource(plan, owner, frozenset(), member, met)
    ok, reasons = decision.visible, list(decision.reasons)
    if not ok:
        audit_reasons = [r for r in reasons if r != str(ReasonCode.SCOPE_GRANTED)]
        raise Forbidden(
            "The resource lies outside the patients this token may reach.",
            reason=ReasonCode(audit_reasons[-1]),
        )


def _write_response(
    request: Request, svc: Services, plan: AccessPlan, stored: StoredResource, created: bool
) -> Response:
    location = f"{svc.settings.fhir_base}/{stored.resource_type}/{stored.id}/_history/"
    headers = {"Location": f"{location}{stored.version_id}", "ETag": f'W/"{stored.version_id}"'}
    status = 201 if created else 200
    readable = decide_resource(plan, stored.patient_id, stored.labels, True).visible
    record = audit(request)
    if not readable or record.principal is None:
        return Response(status_code=status, headers=headers)
    body = served_body(svc, record.principal, plan, stored, record)
    return FhirResponse(body, status_code=status, headers=headers)


def _begin(request: Request, action: str, resource_type: str) -> tuple[Services, AccessPlan]:
    known_type(request, action, resource_type)
    svc = services(request)
    principal = svc.guard.authenticate(request)
    return svc, svc.guard.authorize(request, principal, resource_type, action)


@router.post("/{resource_type}")
async def create(request: Request, resource_type: str) -> Response:
    svc, plan = _begin(request, "create", resource_type)
    resource = await _body(request, resource_type)
    resource["id"] = uuid.uuid4().hex
    return _save(request, svc, plan, resource)


@router.put("/{resource_type}/{resource_id}")
async def update(request: Request, resource_type: str, resource_id: str) -> Response:
    svc, plan = _begin(request, "update", resource_type)
    resource = await _body(request, resource_type)
    if not valid_id(resource_id) or resource.get("id") != resource_id:
        raise InvalidRequest("The body id must match the id in the URL.")
    _existing_visible(request, svc, plan, resource_type, resource_id, required=False)
    return _save(request, svc, plan, resource)


async def _body(request: Request, resource_type: str) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    return validate_body(await request.body(), resource_type, content_type)


def _save(request: Request, svc: Services, plan: AccessPlan, resource: dict[str, Any]) -> Response:
    """Policy check of the new content, store (create or new version), evidence, answer."""
    _may_write(svc, plan, resource)
    stored, created = svc.repository.save(resource, svc.now_iso())
    _record_write(request, stored, resource)
    return _write_response(request, svc, plan, stored, created=created)


@router.delete("/{resource_type}/{resource_id}")
async def delete(request: Request, resource_type: str, resource_id: str) -> Response:
    svc, plan = _begin(request, "delete", resource_type)
    stored = _existing_visible(request, svc, plan, resource_type, resource_id, required=True)
    assert stored is not None
    svc.repository.delete(resource_type, resource_id, svc.now_iso())
    _record_write(request, stored, None)
    return Response(status_code=204)


def _existing_visible(
    request: Request,
    svc: Services,
    plan: AccessPlan,
    resource_type: str,
    resource_id: str,
    required: bool,
) -> StoredResource | None:
    stored = svc.repository.read(resource_type, resource_id) if valid_id(resource_id) else None
    if stored is None:
        if required:
            raise NotFound()
        return None
    ok, reasons = visible(svc, plan, stored)
    if not ok:
        audit(request).reasons.clear()
        audit(request).decide(Decision.DENY, *reasons)
        raise NotFound()  # existing but unseen answers exactly like missing
    return stored


def _record_write(
    request: Request, stored: StoredResource, resource: dict[str, Any] | None
) -> None:
    record = audit(request)
    record.resource_ids.append(f"{stored.resource_type}/{stored.id}")
    patient = owner_patient(resource) if resource is not None else stored.patient_id
    if patient:
        record.patient_ids.add(patient)
    record.count_returned = 1
