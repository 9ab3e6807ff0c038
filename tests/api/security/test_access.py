"""Who may see what, as the contract words it: plan_access + decide_resource vs an oracle."""

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from api.security.access import (
    SENSITIVE_LABELS,
    Reach,
    decide_resource,
    plan_access,
)
from api.security.principal import Principal
from api.security.scopes import parse_scope_claim
from evidence.core import ReasonCode as R

ME = "pat-1"  # the patient in the token's context (or the fhirUser patient)
OTHER = "pat-2"
PRACTITIONER = "Practitioner/prac-1"


def principal(scope: str, **fields: Any) -> Principal:
    scopes, known, _ = parse_scope_claim(scope)
    export = "export" in known
    return Principal(sub="s", issuer="i", scopes=scopes, has_export_scope=export, **fields)


@dataclass(frozen=True)
class Case:
    context: str  # patient | user | system
    fhir_user: str
    purpose: str
    placement: str  # mine | other | nobody (a compartment type, no patient) | none (not one)
    labels: frozenset[str]
    clearance: frozenset[str]
    member: bool

    @property
    def resource_type(self) -> str:
        return "Practitioner" if self.placement == "none" else "Observation"

    @property
    def owner(self) -> str:
        return {"mine": ME, "other": OTHER, "nobody": "", "none": ""}[self.placement]

    def principal(self, scope: str | None = None) -> Principal:
        return principal(
            f"{self.context}/{self.resource_type}.rs" if scope is None else scope,
            patient=ME if self.context == "patient" else "",
            fhir_user=self.fhir_user,
            purpose_of_use=self.purpose,
            clearance=self.clearance,
        )


LABELS = [  # (resource labels, token clearance)
    (frozenset(), frozenset()),
    (frozenset({"R"}), frozenset()),
    (frozenset({"R"}), frozenset({"R"})),
    (frozenset({"HIV"}), frozenset()),
    (frozenset({"HIV"}), frozenset({"HIV"})),
    (frozenset({"HIV", "R"}), frozenset({"HIV"})),
    (frozenset({"N"}), frozenset()),  # "normal" confidentiality is not sensitive
]
CASES = [
    Case(ctx, user, purpose, placement, labels, clearance, member)
    for ctx, user, purpose, placement, (labels, clearance), member in itertools.product(
        ["patient", "user", "system"],
        [PRACTITIONER, f"Patient/{ME}", ""],
        ["TREAT", "ETREAT"],
        ["mine", "other", "nobody", "none"],
        LABELS,
        [True, False],
    )
]


def expected(case: Case) -> tuple[bool, tuple[str, ...]]:
    """The contract, written out independently of the implementation."""
    if case.placement == "none":
        plan_reason = R.SYSTEM_ACCESS  # not patient data: the scope for the type suffices
    elif case.context == "system":
        plan_reason = R.SYSTEM_ACCESS
    elif case.context == "patient":
        plan_reason = R.COMPARTMENT_PATIENT
    elif case.fhir_user == PRACTITIONER:
        plan_reason = R.BREAK_GLASS if case.purpose == "ETREAT" else R.CARETEAM_MEMBER
    elif case.fhir_user.startswith("Patient/"):
        plan_reason = R.COMPARTMENT_PATIENT
    else:
        plan_reason = R.CARETEAM_NOT_MEMBER
    plan = (R.SCOPE_GRANTED, plan_reason)
    if case.placement == "nobody" and plan_reason not in (R.SYSTEM_ACCESS, R.BREAK_GLASS):
        return False, (R.SCOPE_GRANTED, R.COMPARTMENT_OUTSIDE)  # fail closed: no patient
    if plan_reason == R.COMPARTMENT_PATIENT and case.owner != ME:
        return False, (R.SCOPE_GRANTED, R.COMPARTMENT_OUTSIDE)
    if plan_reason == R.CARETEAM_MEMBER and not case.member:
        return False, (R.SCOPE_GRANTED, R.CARETEAM_NOT_MEMBER)
    if plan_reason == R.CARETEAM_NOT_MEMBER and case.owner:
        return False, (R.SCOPE_GRANTED, R.COMPARTMENT_OUTSIDE)
    if case.labels & {"R", "V", "HIV", "PSY", "SUD", "ETH"} - case.clearance:
        return False, (*plan, R.LABEL_WITHHELD)  # break-glass never lifts a label
    return True, plan


@pytest.mark.parametrize("case", CASES, ids=str)
def test_access_matrix(case: Case) -> None:
    plan = plan_access(case.principal(), case.resource_type, "read")
    assert plan.granted
    assert plan.scopes_used == (f"{case.context}/{case.resource_type}.rs",)
    assert plan.hidden_labels == SENSITIVE_LABELS - case.clearance
    decision = decide_resource(plan, case.owner, case.labels, case.member)
    assert (not decision.denies, decision.reasons) == expected(case)


@pytest.mark.parametrize("case", CASES[:: len(LABELS) * 2], ids=str)
def test_missing_scope_is_never_granted(case: Case) -> None:
    for scope in (f"{case.context}/Condition.rs", f"{case.context}/{case.resource_type}.c", ""):
        plan = plan_access(case.principal(scope), case.resource_type, "read")
        assert not plan.granted
        assert plan.reasons == (R.SCOPE_INSUFFICIENT,)
        assert plan.reach.kind is Reach.NONE and plan.scopes_used == ()
        decision = decide_resource(plan, case.owner, frozenset(), True)
        assert decision.denies and decision.reasons == (R.SCOPE_INSUFFICIENT,)


def test_reach_of_each_context() -> None:
    def reach(scope: str, **fields: Any) -> tuple[Reach, str, str]:
        r = plan_access(principal(scope, **fields), "Observation", "search").reach
        return r.kind, r.patient, r.practitioner

    assert reach("patient/Observation.rs", patient=ME) == (Reach.ONE, ME, "")
    assert reach("patient/Observation.rs") == (Reach.NONE, "", "")
    no_patient = plan_access(principal("patient/Observation.rs"), "Observation", "read")
    assert no_patient.reasons == (R.SCOPE_GRANTED, R.COMPARTMENT_OUTSIDE)
    assert decide_resource(no_patient, ME, frozenset(), True).denies
    assert reach("user/Observation.rs", fhir_user=PRACTITIONER) == (
        Reach.CARE_TEAM,
        "",
        PRACTITIONER,
    )
    etreat = {"fhir_user": PRACTITIONER, "purpose_of_use": "ETREAT"}
    assert reach("user/Observation.rs", **etreat) == (Reach.ALL, "", "")
    assert reach("user/Observation.rs", fhir_user=f"Patient/{ME}") == (Reach.ONE, ME, "")
    for odd in ("Practitioner/", "RelatedPerson/x", "Practitioner", "", "prac-1"):
        assert reach("user/Observation.rs", fhir_user=odd)[0] is Reach.NONE
    assert reach("system/Observation.rs", patient=ME)[0] is Reach.ALL


def test_purposes_other_than_etreat_do_not_break_glass() -> None:
    for purpose in ("TREAT", "HPAYMT", "HOPERAT", "etreat", "ETREAT ", "BTG"):
        p = principal("user/Observation.rs", fhir_user=PRACTITIONER, purpose_of_use=purpose)
        plan = plan_access(p, "Observation", "read")
        assert plan.reach.kind is Reach.CARE_TEAM
        assert decide_resource(plan, OTHER, frozenset(), False).denies


def test_break_glass_is_recorded_on_every_visible_resource() -> None:
    p = principal("user/Observation.rs", fhir_user=PRACTITIONER, purpose_of_use="ETREAT")
    plan = plan_access(p, "Observation", "read")
    decision = decide_resource(plan, OTHER, frozenset(), False)
    assert not decision.denies and R.BREAK_GLASS in decision.reasons


def test_patient_scope_does_not_follow_the_fhir_user() -> None:
    p = principal("patient/Observation.rs", patient=ME, fhir_user=f"Patient/{OTHER}")
    plan = plan_access(p, "Observation", "read")
    assert not decide_resource(plan, ME, frozenset(), False).denies
    assert decide_resource(plan, OTHER, frozenset(), True).denies


def test_the_broadest_context_present_decides_the_reach() -> None:
    p = principal("patient/Observation.rs system/Observation.rs", patient=ME)
    plan = plan_access(p, "Observation", "read")
    assert plan.reach.kind is Reach.ALL and plan.scopes_used == ("system/Observation.rs",)
    both = principal(
        "patient/Observation.rs user/Observation.rs", patient=ME, fhir_user=PRACTITIONER
    )
    plan = plan_access(both, "Observation", "read")
    assert plan.reach.kind is Reach.CARE_TEAM and plan.scopes_used == ("user/Observation.rs",)


def test_audit_events_need_an_explicit_scope() -> None:
    wildcard = principal("system/*.cruds user/*.read patient/*.rs", patient=ME)
    assert not plan_access(wildcard, "AuditEvent", "search").granted
    explicit = principal("system/AuditEvent.rs")
    plan = plan_access(explicit, "AuditEvent", "search")
    assert plan.granted and plan.scopes_used == ("system/AuditEvent.rs",)


@pytest.mark.parametrize("interaction", ["create", "update", "patch", "delete"])
def test_write_interactions_need_write_letters(interaction: str) -> None:
    reader = principal("system/Observation.rs user/*.read")
    assert not plan_access(reader, "Observation", interaction).granted
    writer = principal("system/Observation.cud")
    assert plan_access(writer, "Observation", interaction).granted


def test_every_sensitive_label_is_withheld_without_clearance() -> None:
    p = principal("system/Observation.rs")
    plan = plan_access(p, "Observation", "read")
    for label in SENSITIVE_LABELS | {"R", "V", "HIV", "PSY", "SUD", "ETH"}:
        decision = decide_resource(plan, ME, frozenset({label}), False)
        assert decision.denies and decision.reasons[-1] == R.LABEL_WITHHELD
        cleared = plan_access(
            principal("system/Observation.rs", clearance={label}), "Observation", "read"
        )
        assert not decide_resource(cleared, ME, frozenset({label}), False).denies
    assert frozenset({"HIV", "N", "R"}) & plan.hidden_labels == frozenset({"HIV", "R"})
