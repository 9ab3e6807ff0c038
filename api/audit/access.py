"""Who may audit: typed dependencies for the auditor routes. A token needs an explicit
AuditEvent scope (a wildcard never covers it); patient-context tokens may read only their
own patient's evidence, staff tokens (user/ or system/) everything. The grant is recorded as
the request's; the route declares its target first (`dependencies=[Depends(target(...))]`)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.errors import Forbidden
from api.http.deps import Authorization, authorized
from api.security.principal import Principal

__all__ = ["Auditor", "AuditorActing", "AuditorReading", "StaffActing", "StaffReading"]


@dataclass(frozen=True, slots=True)
class Auditor:
    principal: Principal
    patient_only: bool  # only patient/ AuditEvent scopes granted it


def _auditor(authorization: Authorization) -> Auditor:
    principal, plan = authorization.principal, authorization.plan
    contexts = {s.context for s in principal.scopes if s.raw in plan.scopes_used}
    return Auditor(principal, contexts == {"patient"})


async def reading(
    authorization: Annotated[Authorization, Depends(authorized("AuditEvent", "search"))],
) -> Auditor:
    return _auditor(authorization)


async def acting(
    authorization: Annotated[Authorization, Depends(authorized("AuditEvent", "update"))],
) -> Auditor:
    return _auditor(authorization)


async def staff_reading(auditor: Annotated[Auditor, Depends(reading)]) -> Auditor:
    """Patient-context tokens may read only their own patient's accesses, nothing else."""
    if auditor.patient_only:
        raise Forbidden()
    return auditor


async def staff_acting(auditor: Annotated[Auditor, Depends(acting)]) -> Auditor:
    if auditor.patient_only:
        raise Forbidden()
    return auditor


AuditorReading = Annotated[Auditor, Depends(reading)]
AuditorActing = Annotated[Auditor, Depends(acting)]
StaffReading = Annotated[Auditor, Depends(staff_reading)]
StaffActing = Annotated[Auditor, Depends(staff_acting)]
