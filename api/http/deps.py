"""Typed dependencies: how routes get the caller and the services they need.

The only module that reads `request.app.state`: the composition root keeps there one
`Provider` of every service group, and `provided(kind)` is the dependency that hands a route
the app's instance of `kind` (each route package declares its own groups). Every provider is
`async def` and cheap (a sync dependency runs in the threadpool). FastAPI resolves a route's
dependencies in the order its parameters declare them: a route that must check something
before the token (an unknown resource type answers 404 before any token check) declares
that dependency first.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends
from starlette.requests import Request

from api.access.guard import Guard
from api.http.request_audit import RequestAudit
from api.security.access import POLICY_VERSION, AccessPlan
from api.security.principal import Principal

__all__ = [
    "Authorization",
    "CurrentPrincipal",
    "Provider",
    "audit",
    "authorized",
    "optional",
    "provided",
    "target",
]
T = TypeVar("T")


class Provider(Protocol):
    """The app's service groups, by type."""

    def provide(self, kind: type[T]) -> T: ...

    def provide_optional(self, kind: type[T]) -> T | None: ...


def audit(request: Request) -> RequestAudit:
    """The request's audit record (made by the evidence middleware)."""
    record: RequestAudit = request.state.audit
    return record


def _provider(request: Request) -> Provider:
    provider: Provider = request.app.state.services
    return provider


def provided(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency: the app's instance of `kind`."""

    async def provide(request: Request) -> T:
        return _provider(request).provide(kind)

    provide.__name__ = f"provided_{kind.__name__}"
    return provide


def optional(kind: type[T]) -> Callable[[Request], Awaitable[T | None]]:
    """A dependency: the app's instance of `kind`, or None while it is off."""

    async def provide(request: Request) -> T | None:
        return _provider(request).provide_optional(kind)

    provide.__name__ = f"optional_{kind.__name__}"
    return provide


async def current_principal(request: Request) -> Principal:
    """The caller of the request's bearer token (Unauthorized otherwise), recorded as the
    request's principal before the rate limit is checked (a throttled request names it)."""
    guard, record = _provider(request).provide(Guard), audit(request)
    record.under_policy(POLICY_VERSION)
    header = request.headers.get("authorization", "")
    principal = guard.authenticate(header, "access_token" in request.query_params)
    record.authenticated(principal)
    guard.throttle(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True, slots=True)
class Authorization:
    principal: Principal
    plan: AccessPlan  # granted


def authorized(resource_type: str, interaction: str) -> Callable[..., Awaitable[Authorization]]:
    """A dependency: the caller, granted `interaction` on `resource_type` (the grant recorded
    as the request's), or Forbidden carrying the refusal."""

    async def authorization(request: Request, principal: CurrentPrincipal) -> Authorization:
        plan = _provider(request).provide(Guard).authorize(principal, resource_type, interaction)
        audit(request).granted(plan.verdict, plan.scopes_used)
        return Authorization(principal, plan)

    return authorization


def target(action: str, resource_type: str = "") -> Callable[..., Awaitable[None]]:
    """A route dependency (`dependencies=[Depends(target(...))]`, resolved before the
    parameters' ones): what the request is, recorded before anything can refuse it."""

    async def record_target(request: Request) -> None:
        audit(request).target(action, resource_type)

    return record_target
