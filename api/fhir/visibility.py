"""Shared by every FHIR route that hands out resources: is this type served (a dependency,
checked before the token), may this caller see this stored resource (its own verdict: reach,
care team, labels, granular constraints) and what does the caller get of it."""

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from fastapi import Request

from api.data.indexing import SEARCH_PARAMS
from api.data.port import StoredResource
from api.errors import NotFound
from api.fhir.search import constraint_alternatives
from api.fhir.serving import FhirServing
from api.http.deps import audit
from api.security.access import AccessPlan, Reach, decide_resource
from api.security.principal import Principal
from api.security.redaction import fields_to_redact, redact
from api.security.verdict import Verdict

Body = bytes | dict[str, Any]


def known_type(action: str) -> Callable[..., Awaitable[str]]:
    """A dependency: the path's resource type, recorded with `action` as the request's
    target; 404 for a type this server does not serve (before any token check)."""

    async def served_type(request: Request, resource_type: str) -> str:
        record = audit(request)  # an unserved type is the caller's text: only its hash
        record.target(action, record.word(resource_type, SEARCH_PARAMS))
        if resource_type not in SEARCH_PARAMS:
            raise NotFound("Unknown or unsupported resource type.")
        return resource_type

    return served_type


def resource_verdict(fhir: FhirServing, plan: AccessPlan, stored: StoredResource) -> Verdict:
    """The stored resource's own verdict under a granted plan (`decide_resource`)."""
    member = False
    if plan.reach.kind is Reach.CARE_TEAM and stored.patient_id:
        member = fhir.guard.care_team_member(plan.reach.practitioner, stored.patient_id)
    met = True
    if plan.constraints:
        alternatives = constraint_alternatives(stored.resource_type, plan.constraints)
        met = fhir.data.satisfies(stored.resource_type, stored.id, alternatives)
    return decide_resource(plan, stored.patient_id, stored.labels, member, met)


class Served(NamedTuple):
    body: Body  # the stored bytes, or a redacted copy
    redacted: bool  # fields were removed (the evidence counts it)


def served_body(
    fhir: FhirServing, principal: Principal, plan: AccessPlan, stored: StoredResource
) -> Served:
    """What the caller gets of a resource it may see: the stored bytes, or a redacted copy
    when field-level redaction applies."""
    fields = fields_to_redact(
        plan, principal.known_scopes, stored.resource_type, stored.patient_id, fhir.redactions
    )
    if fields:
        redacted = redact(stored.as_dict(), fields)
        if redacted is not None:
            return Served(redacted, True)
    return Served(stored.body, False)
