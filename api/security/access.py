"""Who may see what (as the contract words it), as pure decisions over plain data.

`plan_access` answers, for a principal, a resource type and an interaction, whether any
scope grants it and which patients and labels it reaches; the repository turns the plan
into SQL (the policy is applied inside the query). The plan's `verdict` is the grant (or the
refusal); `decide_resource` judges one resource from it and answers with that resource's
own verdict.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from api.security.compartment import COMPARTMENT_TYPES as COMPARTMENT_TYPES  # re-exported
from api.security.principal import Principal
from api.security.scopes import Scope, matching_scopes
from api.security.verdict import Verdict, allow, deny, resource_denied
from evidence.core import ReasonCode

POLICY_VERSION = "2026-11.2"  # .2: a compartment resource of nobody is for system scopes
SENSITIVE_LABELS = frozenset(
    {
        "R",
        "V",
        "HIV",
        "PSY",
        "SUD",
        "ETH",
        "SDV",
        "SEX",
        "STD",
        "GDIS",
        "BH",
        "MH",
        "SICKLE",
        "TBOO",
        "PREGNANT",
        "ADOL",
        "COMPT",
        "DRGIS",
        "PDS",
        "PRS",
        "SCA",
    }
)


class Reach(StrEnum):
    ALL = "all"  # every patient
    ONE = "one"  # one patient's compartment
    CARE_TEAM = "care_team"  # patients whose active CareTeam lists the practitioner
    NONE = "none"  # no patient at all


@dataclass(frozen=True, slots=True)
class PatientReach:
    kind: Reach
    patient: str = ""
    practitioner: str = ""  # "Practitioner/<id>"


Constraint = tuple[tuple[str, str], ...]  # one granular scope's (param, value) pairs, all apply


@dataclass(frozen=True, slots=True)
class AccessPlan:
    granted: bool
    reach: PatientReach
    hidden_labels: frozenset[str]
    reasons: tuple[str, ...]
    scopes_used: tuple[str, ...]
    # Granular scopes: a resource must satisfy one of these; empty means unconstrained.
    constraints: tuple[Constraint, ...] = ()
    verdict: Verdict = field(init=False, compare=False)  # allow(reasons) or deny(reasons)

    def __post_init__(self) -> None:
        verdict = allow(*self.reasons) if self.granted else deny(*self.reasons)
        object.__setattr__(self, "verdict", verdict)


def plan_access(principal: Principal, resource_type: str, interaction: str) -> AccessPlan:
    scopes = matching_scopes(principal.scopes, resource_type, interaction)
    hidden = SENSITIVE_LABELS - principal.clearance
    if not scopes:
        reach = PatientReach(Reach.NONE)
        return AccessPlan(False, reach, hidden, (ReasonCode.SCOPE_INSUFFICIENT,), ())
    chosen, reach, reason = _reach_for(principal, scopes, resource_type)
    reasons = (str(ReasonCode.SCOPE_GRANTED), reason)
    return AccessPlan(
        True, reach, hidden, reasons, tuple(s.raw for s in chosen), _constraints(chosen)
    )


def _constraints(chosen: tuple[Scope, ...]) -> tuple[Constraint, ...]:
    """Any unconstrained scope among those chosen lifts every constraint (scopes add up)."""
    if any(not scope.constraints for scope in chosen):
        return ()
    return tuple(sorted({scope.constraints for scope in chosen}))


def _reach_for(
    principal: Principal, scopes: tuple[Scope, ...], resource_type: str
) -> tuple[tuple[Scope, ...], PatientReach, str]:
    by_context = {
        ctx: tuple(s for s in scopes if s.context == ctx) for ctx in ("system", "user", "patient")
    }
    if resource_type not in COMPARTMENT_TYPES:  # no patient reach: every granting scope counts
        return scopes, PatientReach(Reach.ALL), ReasonCode.SYSTEM_ACCESS
    if by_context["system"]:
        return by_context["system"], PatientReach(Reach.ALL), ReasonCode.SYSTEM_ACCESS
    if by_context["user"]:
        reach, reason = _user_reach(principal)
        return by_context["user"], reach, reason
    if principal.patient:
        reach = PatientReach(Reach.ONE, patient=principal.patient)
        return by_context["patient"], reach, ReasonCode.COMPARTMENT_PATIENT
    return by_context["patient"], PatientReach(Reach.NONE), ReasonCode.COMPARTMENT_OUTSIDE


def _user_reach(principal: Principal) -> tuple[PatientReach, str]:
    rtype, _, rid = principal.fhir_user.partition("/")
    if rtype == "Practitioner" and rid:
        if principal.break_glass:
            return PatientReach(Reach.ALL), ReasonCode.BREAK_GLASS
        return PatientReach(Reach.CARE_TEAM, practitioner=principal.fhir_user), (
            ReasonCode.CARETEAM_MEMBER
        )
    if rtype == "Patient" and rid:
        return PatientReach(Reach.ONE, patient=rid), ReasonCode.COMPARTMENT_PATIENT
    return PatientReach(Reach.NONE), ReasonCode.CARETEAM_NOT_MEMBER


def decide_resource(
    plan: AccessPlan,
    owner_patient: str,
    labels: frozenset[str],
    care_team_member: bool,
    constraints_met: bool = True,
) -> Verdict:
    """May the caller see one resource owned by `owner_patient` ("" for nobody: only a reach
    of every patient covers it) with `labels`?
    `constraints_met`: whether it satisfies one of the plan's granular-scope constraints.
    Visible: the grant itself; hidden: a deny that replaces the grant (`replaces_grant`)."""
    if not plan.granted:
        return plan.verdict
    if plan.constraints and not constraints_met:
        return resource_denied(ReasonCode.SCOPE_INSUFFICIENT)
    reach_ok, reach_reason = _within_reach(plan.reach, owner_patient, care_team_member)
    if not reach_ok:
        return resource_denied(ReasonCode.SCOPE_GRANTED, reach_reason)
    if labels & plan.hidden_labels:
        return resource_denied(*plan.reasons, ReasonCode.LABEL_WITHHELD)
    return plan.verdict


def _within_reach(reach: PatientReach, owner: str, care_team_member: bool) -> tuple[bool, str]:
    """A reach short of every patient never covers a resource that belongs to nobody ("");
    non-compartment types always plan the reach of every patient, so they stay shared."""
    if reach.kind is Reach.ALL:
        return True, ""
    if not owner:
        return False, str(ReasonCode.COMPARTMENT_OUTSIDE)
    if reach.kind is Reach.ONE:
        inside = owner == reach.patient
        return inside, "" if inside else str(ReasonCode.COMPARTMENT_OUTSIDE)
    if reach.kind is Reach.CARE_TEAM:
        return care_team_member, "" if care_team_member else str(ReasonCode.CARETEAM_NOT_MEMBER)
    return False, str(ReasonCode.COMPARTMENT_OUTSIDE)
