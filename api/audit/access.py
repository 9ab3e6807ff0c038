"""Who may audit: typed dependencies for the auditor routes. A token needs an explicit
AuditEvent scope (a wildcard never covers it), and reaches the evidence its AuditEvent scopes
name (`api.security.audit_reach`): every granular constraint and the user context are
enforced, never ignored. A question about a patient or a principal is confined with
`Auditor.confined`; routes that cannot be confined (verify, alerts, checkpoints, proofs, a
request's lifecycle, acting on alerts) need a scope that reaches every row. The grant is
recorded as the request's; the route declares its target first
(`dependencies=[Depends(target(...))]`)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.errors import Forbidden
from api.http.deps import Authorization, authorized
from api.security.audit_reach import AuditReach, Confined, audit_reach, confine
from api.security.principal import Principal
from evidence.core import ReasonCode

__all__ = ["Auditor", "AuditorActing", "AuditorReading", "StaffActing", "StaffReading"]


@dataclass(frozen=True, slots=True)
class Auditor:
    principal: Principal
    reach: AuditReach

    def confined(self, patient: str = "", agent: str = "") -> Confined:
        """The question (rows about `patient` by `agent`; blanks: any) within this token's
        reach, or 403 (`compartment.outside`) when no single AuditEvent scope admits it."""
        answer = confine(self.reach, patient, agent)
        if answer is None:
            raise Forbidden(
                "The token's AuditEvent scopes do not reach this evidence.",
                reason=ReasonCode.COMPARTMENT_OUTSIDE,
            )
        return answer


def auditor_of(authorization: Authorization) -> Auditor:
    principal, plan = authorization.principal, authorization.plan
    return Auditor(principal, audit_reach(principal, plan.scopes_used))


async def reading(
    authorization: Annotated[Authorization, Depends(authorized("AuditEvent", "search"))],
) -> Auditor:
    return auditor_of(authorization)


async def acting(
    authorization: Annotated[Authorization, Depends(authorized("AuditEvent", "update"))],
) -> Auditor:
    return auditor_of(authorization)


def _unconstrained(auditor: Auditor, needed: str) -> Auditor:
    if not auditor.reach.unconstrained:
        raise Forbidden(
            "This needs an AuditEvent scope without a patient, agent or user confinement.",
            reason=ReasonCode.SCOPE_INSUFFICIENT,
            required_scope=needed,
        )
    return auditor


async def staff_reading(auditor: Annotated[Auditor, Depends(reading)]) -> Auditor:
    """Questions that cannot be confined to the rows a scope names."""
    return _unconstrained(auditor, "system/AuditEvent.rs")


async def staff_acting(auditor: Annotated[Auditor, Depends(acting)]) -> Auditor:
    return _unconstrained(auditor, "system/AuditEvent.u")


AuditorReading = Annotated[Auditor, Depends(reading)]
AuditorActing = Annotated[Auditor, Depends(acting)]
StaffReading = Annotated[Auditor, Depends(staff_reading)]  # every row: unconstrained only
StaffActing = Annotated[Auditor, Depends(staff_acting)]
