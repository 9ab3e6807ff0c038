"""Shared by every FHIR route that hands out resources: is this type served, and may this
caller see this stored resource (reach, care team, labels, granular constraints)?"""

from typing import Any

from fastapi import Request

from api.data.indexing import SEARCH_PARAMS
from api.data.port import StoredResource
from api.errors import NotFound
from api.fhir.search import constraint_alternatives
from api.http.deps import Services, audit
from api.http.request_audit import RequestAudit
from api.security.access import AccessPlan, Reach, decide_resource
from api.security.principal import Principal
from api.security.redaction import fields_to_redact, redact


def known_type(request: Request, action: str, resource_type: str) -> None:
    audit(request).target(action, resource_type)
    if resource_type not in SEARCH_PARAMS:
        raise NotFound("Unknown or unsupported resource type.")


def visible(svc: Services, plan: AccessPlan, stored: StoredResource) -> tuple[bool, list[str]]:
    member = False
    if plan.reach.kind is Reach.CARE_TEAM and stored.patient_id:
        member = svc.guard.care_team_member(plan.reach.practitioner, stored.patient_id)
    met = True
    if plan.constraints:
        alternatives = constraint_alternatives(stored.resource_type, plan.constraints)
        met = svc.repository.satisfies(stored.resource_type, stored.id, alternatives)
    decision = decide_resource(plan, stored.patient_id, stored.labels, member, met)
    return decision.visible, list(decision.reasons)


def served_body(
    svc: Services,
    principal: Principal,
    plan: AccessPlan,
    stored: StoredResource,
    record: RequestAudit,
) -> bytes | dict[str, Any]:
    """What the caller gets of a resource it may see: the stored bytes, or a redacted copy
    (counted in the evidence) when field-level redaction applies."""
    fields = fields_to_redact(
        plan, principal.known_scopes, stored.resource_type, stored.patient_id, svc.redactions
    )
    if fields:
        redacted = redact(stored.as_dict(), fields)
        if redacted is not None:
            record.count_redacted += 1
            return redacted
    return stored.body
