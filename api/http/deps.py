"""Typed dependencies: how routes get the caller and the services they need.

The only module that reads `request.app.state`. Every provider is `async def` and cheap (a
sync dependency runs in the threadpool). FastAPI resolves a route's dependencies in the order
its parameters declare them: a route that must check something before the token (an unknown
resource type answers 404 before any token check) declares that dependency first.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from api.access.devissuer import DevIssuer
from api.http.request_audit import RequestAudit
from api.http.services import Auditing, Discovery, Exporting, FhirServing, Services
from api.security.access import POLICY_VERSION, AccessPlan
from api.security.principal import Principal

__all__ = [
    "AuditServices",
    "Authorization",
    "CurrentPrincipal",
    "DevIssuerIfOn",
    "DiscoveryDocuments",
    "ExportServices",
    "FhirServices",
    "audit",
    "authorized",
    "target",
]


def audit(request: Request) -> RequestAudit:
    """The request's audit record (made by the evidence middleware)."""
    record: RequestAudit = request.state.audit
    return record


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def fhir_serving(request: Request) -> FhirServing:
    return _services(request).fhir


async def exporting(request: Request) -> Exporting:
    return _services(request).exporting


async def auditing(request: Request) -> Auditing:
    return _services(request).auditing


async def discovery(request: Request) -> Discovery:
    return _services(request).discovery


async def dev_issuer(request: Request) -> DevIssuer | None:
    return _services(request).dev_issuer


async def current_principal(request: Request) -> Principal:
    """The caller of the request's bearer token (Unauthorized otherwise), recorded as the
    request's principal before the rate limit is checked (a throttled request names it)."""
    guard, record = _services(request).guard, audit(request)
    record.under_policy(POLICY_VERSION)
    header = request.headers.get("authorization", "")
    principal = guard.authenticate(header, "access_token" in request.query_params)
    record.authenticated(principal)
    guard.throttle(principal)
    return principal


FhirServices = Annotated[FhirServing, Depends(fhir_serving)]
ExportServices = Annotated[Exporting, Depends(exporting)]
AuditServices = Annotated[Auditing, Depends(auditing)]
DiscoveryDocuments = Annotated[Discovery, Depends(discovery)]
DevIssuerIfOn = Annotated[DevIssuer | None, Depends(dev_issuer)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True, slots=True)
class Authorization:
    principal: Principal
    plan: AccessPlan  # granted


def authorized(resource_type: str, interaction: str) -> Callable[..., Awaitable[Authorization]]:
    """A dependency: the caller, granted `interaction` on `resource_type` (the grant recorded
    as the request's), or Forbidden carrying the refusal."""

    async def authorization(request: Request, principal: CurrentPrincipal) -> Authorization:
        plan = _services(request).guard.authorize(principal, resource_type, interaction)
        audit(request).granted(plan.verdict, plan.scopes_used)
        return Authorization(principal, plan)

    return authorization


def target(action: str, resource_type: str = "") -> Callable[..., Awaitable[None]]:
    """A route dependency (`dependencies=[Depends(target(...))]`, resolved before the
    parameters' ones): what the request is, recorded before anything can refuse it."""

    async def record_target(request: Request) -> None:
        audit(request).target(action, resource_type)

    return record_target
