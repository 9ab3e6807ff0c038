"""Shared by every FHIR route that hands out resources: is this type served, and may this
caller see this stored resource (reach, care team, labels, granular constraints)?"""

from fastapi import Request

from api.data.indexing import SEARCH_PARAMS
from api.data.repository import StoredResource
from api.errors import NotFound
from api.fhir.search import constraint_alternatives
from api.security.access import AccessPlan, Reach, decide_resource
from api.services import Services, audit


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
