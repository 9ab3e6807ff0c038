"""Create, update and delete. Bodies are validated at the HL7 validator's level
(`api.fhir.write_body`, `api.fhir.validation`) and the policy is checked for the resource
as it is now and as it would be after the write. A write never returns content the
caller could not read.
"""

import functools
import re
import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.data.indexing import owner_patient
from api.data.port import StoredResource, VersionConflict
from api.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    NotSupported,
    PreconditionFailed,
    UnprocessableResource,
)
from api.fhir.access_grants import access_changes, self_added
from api.fhir.negotiation import json_negotiated
from api.fhir.prefer import MINIMAL, OUTCOME, REPRESENTATION, return_preference
from api.fhir.search import resource_satisfies, valid_id
from api.fhir.serving import FhirServices, FhirServing
from api.fhir.visibility import known_type, resource_verdict, served_body
from api.fhir.write_body import validate_body
from api.http.deps import CurrentPrincipal, audit
from api.http.outcomes import FhirResponse, operation_outcome
from api.security.access import AccessPlan, Reach, decide_resource
from api.security.compartment import InvalidReference, normalize_references
from api.security.disclosure import Disclosure
from api.security.principal import Principal
from api.security.verdict import ALLOWED, allow, deny
from evidence.core import ReasonCode

router = APIRouter(prefix="/fhir")
CreateType = Annotated[str, Depends(known_type("create"))]
UpdateType = Annotated[str, Depends(known_type("update"))]
DeleteType = Annotated[str, Depends(known_type("delete"))]


_ETAG_RE = re.compile(r'(?:W/)?"([1-9][0-9]{0,17})"')


def _may_write(fhir: FhirServing, plan: AccessPlan, resource: dict[str, Any]) -> None:
    """The resource after the write must lie within the caller's patient reach and meet the
    granular-scope constraints, judged on the body itself (it is not stored yet). Refused:
    403 with the reason that is not `scope.granted` (it adds to the grant's reasons)."""
    owner = owner_patient(resource)
    member = False
    if plan.reach.kind is Reach.CARE_TEAM and owner:
        member = fhir.guard.care_team_member(plan.reach.practitioner, owner)
    met = resource_satisfies(resource, plan.constraints)
    verdict = decide_resource(plan, owner, frozenset(), member, met)
    if verdict.denies:
        reasons = [r for r in verdict.reasons if r != str(ReasonCode.SCOPE_GRANTED)]
        raise Forbidden(
            "The resource lies outside the patients this token may reach.",
            reason=ReasonCode(reasons[-1]),
        )


def _write_response(
    fhir: FhirServing, principal: Principal, plan: AccessPlan, stored: StoredResource,
    created: bool, preference: str = REPRESENTATION,
) -> tuple[Response, bool]:  # fmt: skip
    """The answer (the resource only when the caller could read it and did not prefer
    `return=minimal` or `return=OperationOutcome`) and whether its body was redacted."""
    location = f"{fhir.fhir_base}/{stored.resource_type}/{stored.id}/_history/"
    headers = {"Location": f"{location}{stored.version_id}", "ETag": f'W/"{stored.version_id}"'}
    status = 201 if created else 200
    if preference == OUTCOME:
        said = "Created." if created else "Updated."
        body = operation_outcome("information", "informational", said)
        return FhirResponse(body, status_code=status, headers=headers), False
    hidden = decide_resource(plan, stored.patient_id, stored.labels, True).denies
    if preference == MINIMAL or hidden:
        return Response(status_code=status, headers=headers), False
    served = served_body(fhir, principal, plan, stored)
    return FhirResponse(served.body, status_code=status, headers=headers), served.redacted


def _authorize(
    request: Request, fhir: FhirServing, principal: Principal, resource_type: str, action: str
) -> AccessPlan:
    plan = fhir.guard.authorize(principal, resource_type, action)
    audit(request).granted(plan.verdict, plan.scopes_used)
    return plan


@router.post("/{resource_type}", dependencies=[Depends(json_negotiated)])
async def create(
    request: Request, resource_type: CreateType, principal: CurrentPrincipal, fhir: FhirServices
) -> Response:
    plan = _authorize(request, fhir, principal, resource_type, "create")
    if "if-none-exist" in request.headers:  # never ignored: a duplicate would be created
        raise NotSupported("Conditional create (If-None-Exist) is not supported.")
    resource = await _body(request, fhir, resource_type)
    resource["id"] = uuid.uuid4().hex
    return await fhir.call(_save, request, fhir, principal, plan, resource, "create")


@router.put("/{resource_type}/{resource_id}", dependencies=[Depends(json_negotiated)])
async def update(
    request: Request,
    resource_type: UpdateType,
    resource_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
) -> Response:
    plan = _authorize(request, fhir, principal, resource_type, "update")
    resource = await _body(request, fhir, resource_type)
    if not valid_id(resource_id) or resource.get("id") != resource_id:
        raise InvalidRequest("The body id must match the id in the URL.")
    expected = expected_version(request.headers.get("if-match"))
    return await fhir.call(_update, request, fhir, principal, plan, resource, expected)


def _update(
    request: Request, fhir: FhirServing, principal: Principal, plan: AccessPlan,
    resource: dict[str, Any], expected: int | None,
) -> Response:  # fmt: skip
    """The stored version checked, then the write, in one go (on one thread: the gateway
    writes with If-Match naming the version checked here)."""
    existing = _existing_visible(fhir, plan, resource["resourceType"], resource["id"],
                                 required=expected is not None)  # fmt: skip
    return _save(request, fhir, principal, plan, resource, "update", expected, existing)


async def _body(request: Request, fhir: FhirServing, resource_type: str) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    body = validate_body(await request.body(), resource_type, content_type)
    return stored_references(body, fhir.fhir_base)


def stored_references(resource: dict[str, Any], fhir_base: str) -> dict[str, Any]:
    """The body with its references as stored (`normalize_references`): 422 for one this
    server cannot resolve or pass on, so that compartment membership is never guessed."""
    try:
        return normalize_references(resource, fhir_base, is_resource_type)
    except InvalidReference:
        raise UnprocessableResource("A reference is not Type/id, #id, a URN or a URL.") from None


@functools.lru_cache(maxsize=512)
def is_resource_type(name: str) -> bool:
    """A resource type FHIR R4 defines (the letter case as defined)."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource as FhirResource

    try:
        return issubclass(get_fhir_model_class(name), FhirResource)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False


def _save(
    request: Request,
    fhir: FhirServing,
    principal: Principal,
    plan: AccessPlan,
    resource: dict[str, Any],
    interaction: str,
    expected: int | None = None,
    existing: StoredResource | None = None,
) -> Response:
    """Policy check of the new content (and of what it changes of who may see what), store
    (create or new version, or 412 when If-Match named another version than the stored
    one), evidence, answer."""
    _may_write(fhir, plan, resource)
    before = existing.as_dict() if existing is not None else None
    self_grant = self_added(before, resource, principal.fhir_user)
    if access_changes(before, resource) and ReasonCode.BREAK_GLASS in plan.reasons:
        _not_by_break_glass_alone(fhir, principal, interaction, resource, existing, self_grant)
    try:
        stored, created = fhir.data.save(resource, fhir.now_iso(), expected)
    except VersionConflict as exc:
        raise PreconditionFailed() from exc
    if stored.resource_type == "CareTeam":
        fhir.guard.care_teams_changed()
    preference = return_preference(request.headers.get("prefer", ""))
    response, redacted = _write_response(fhir, principal, plan, stored, created, preference)
    written = _written(stored, owner_patient(resource))
    verdict = allow(ReasonCode.CARETEAM_SELF_ADDED) if self_grant else ALLOWED
    audit(request).conclude(verdict, written + Disclosure(redacted=int(redacted)))
    return response


def _not_by_break_glass_alone(
    fhir: FhirServing, principal: Principal, interaction: str, resource: dict[str, Any],
    existing: StoredResource | None, self_grant: bool,
) -> None:  # fmt: skip
    """A write that changes who may see what (`api.fhir.access_grants`) under a grant that
    came from break-glass stands only if the same token without break-glass could make it
    (the resource, before and after, within its ordinary care-team reach); otherwise 403
    `break_glass.grant_refused` (and `careteam.self_added` when it listed its own user)."""
    ordinary = fhir.guard.plan(replace(principal, purpose_of_use=""), resource["resourceType"],
                               interaction)  # fmt: skip
    allowed = ordinary.granted and (
        existing is None or not resource_verdict(fhir, ordinary, existing).denies
    )
    if allowed:
        try:
            _may_write(fhir, ordinary, resource)
        except Forbidden:
            allowed = False
    if not allowed:
        self_reason = [ReasonCode.CARETEAM_SELF_ADDED] if self_grant else []
        raise Forbidden(
            "Break-glass access does not authorize a write that grants access.",
            reason=ReasonCode.BREAK_GLASS_GRANT_REFUSED,
            verdict=deny(ReasonCode.BREAK_GLASS_GRANT_REFUSED, *self_reason),
        )


@router.delete("/{resource_type}/{resource_id}")
async def delete(
    request: Request,
    resource_type: DeleteType,
    resource_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
) -> Response:
    plan = _authorize(request, fhir, principal, resource_type, "delete")
    return await fhir.call(_delete, request, fhir, plan, resource_type, resource_id)


def _delete(
    request: Request, fhir: FhirServing, plan: AccessPlan, resource_type: str, resource_id: str
) -> Response:
    stored = _existing_visible(fhir, plan, resource_type, resource_id, required=True)
    if stored is None:  # required: a missing resource raised NotFound already
        raise NotFound()
    fhir.data.delete(resource_type, resource_id, fhir.now_iso())
    if resource_type == "CareTeam":
        fhir.guard.care_teams_changed()
    audit(request).conclude(ALLOWED, _written(stored, stored.patient_id))
    return Response(status_code=204)


def _existing_visible(
    fhir: FhirServing, plan: AccessPlan, resource_type: str, resource_id: str, required: bool
) -> StoredResource | None:
    """The stored resource, when the caller may see it; one it may not see answers exactly
    like a missing one (404, its own verdict in the evidence)."""
    stored = fhir.data.read(resource_type, resource_id) if valid_id(resource_id) else None
    if stored is None:
        if required:
            raise NotFound()
        return None
    verdict = resource_verdict(fhir, plan, stored)
    if verdict.denies:
        raise NotFound(verdict=verdict)
    return stored


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names (`W/"3"` or `"3"`); None without one."""
    if if_match is None:
        return None
    match = _ETAG_RE.fullmatch(if_match.strip())
    if match is None:
        raise InvalidRequest('If-Match must name one version, as in W/"3".')
    return int(match.group(1))


def _written(stored: StoredResource, patient_id: str) -> Disclosure:
    """A written (or deleted) resource, as the evidence counts it: one returned."""
    patients = frozenset({patient_id}) if patient_id else frozenset()
    return Disclosure((f"{stored.resource_type}/{stored.id}",), patients, returned=1)
