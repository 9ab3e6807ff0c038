"""Writes that change who may see what are recognised as such (pure): a write the class
lets through as granting nothing never widens anybody's reach, over random resource shapes
and a grid of principals."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.data.indexing import care_team_links, security_labels
from api.fhir.access_grants import (
    CARE_TEAM,
    COMPARTMENT,
    GROUP,
    LABELS,
    access_changes,
    self_added,
)
from api.security.access import (
    SENSITIVE_LABELS,
    AccessPlan,
    PatientReach,
    Reach,
    decide_resource,
)
from api.security.compartment import owner_patient

PATIENTS = ("Patient/p1", "Patient/p2")
PRACTITIONERS = ("Practitioner/x", "Practitioner/y")
LABEL_CODES = ("R", "HIV", "N")


def _ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


@st.composite
def resources(draw: Any, rtype: str, rid: str = "r1") -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": rtype, "id": rid}
    labels = draw(st.sets(st.sampled_from(LABEL_CODES)))
    if labels:
        body["meta"] = {"security": [{"code": code} for code in sorted(labels)]}
    if rtype in ("CareTeam", "Observation"):
        subject = draw(st.sampled_from((None, *PATIENTS, "Practitioner/x")))
        if subject:
            body["subject"] = _ref(subject)
    if rtype == "CareTeam":
        body["status"] = draw(st.sampled_from(("active", "inactive", "proposed")))
        members = draw(st.lists(st.sampled_from(PRACTITIONERS), max_size=2))
        body["participant"] = [{"member": _ref(m)} for m in members]
    if rtype == "Group":
        members = draw(st.lists(st.sampled_from((*PATIENTS, "Practitioner/x")), max_size=3))
        body["member"] = [{"entity": _ref(m)} for m in members]
    if rtype == "Patient":
        others = draw(st.lists(st.sampled_from(PATIENTS), max_size=2))
        body["link"] = [{"other": _ref(o), "type": "seealso"} for o in others]
    return dict(body)


TYPES = st.sampled_from(("CareTeam", "Group", "Patient", "Observation"))
PAIRS = TYPES.flatmap(lambda t: st.tuples(st.none() | resources(t), resources(t)))


def plans() -> list[tuple[AccessPlan, str]]:
    """A grid of principals: every patient, every practitioner's care team, every
    clearance (the practitioner's reach is judged with the memberships of a resource)."""
    grid = []
    for clearance in (frozenset(), frozenset({"R"}), frozenset(SENSITIVE_LABELS)):
        hidden = SENSITIVE_LABELS - clearance
        for patient in PATIENTS:
            reach = PatientReach(Reach.ONE, patient=patient.split("/")[1])
            grid.append((AccessPlan(True, reach, hidden, (), ()), ""))
        for practitioner in PRACTITIONERS:
            reach = PatientReach(Reach.CARE_TEAM, practitioner=practitioner)
            grid.append((AccessPlan(True, reach, hidden, (), ()), practitioner))
    return grid


def sees(plan: AccessPlan, practitioner: str, resource: dict[str, Any], teams: list[Any]) -> bool:
    owner = owner_patient(resource)
    member = any(m == practitioner and p == owner for team in teams for m, p in team)
    return not decide_resource(plan, owner, security_labels(resource), member).denies


@given(PAIRS)
def test_a_write_that_grants_nothing_widens_no_reach(pair: Any) -> None:
    before, after = pair
    if access_changes(before, after):
        return
    links_before = care_team_links(before) if before else []
    assert set(care_team_links(after)) <= set(links_before)
    if before is None:
        return  # a create that grants nothing lists no practitioner on an active team
    for plan, practitioner in plans():
        if sees(plan, practitioner, after, [links_before]):
            assert sees(plan, practitioner, before, [links_before])


@given(PAIRS, st.sampled_from(("", *PRACTITIONERS, "https://h/fhir/Practitioner/x")))
def test_self_added_is_a_new_membership_of_ones_own_user(pair: Any, user: str) -> None:
    before, after = pair
    added = set(care_team_links(after)) - set(care_team_links(before) if before else [])
    me = user.split("/fhir/")[-1]
    assert self_added(before, after, user) == any(m == me for m, _ in added if user)
    if self_added(before, after, user):
        assert CARE_TEAM in access_changes(before, after)


def test_examples() -> None:
    team = {"resourceType": "CareTeam", "status": "active", "subject": _ref("Patient/p1"),
            "participant": [{"member": _ref("Practitioner/x")}]}  # fmt: skip
    assert access_changes(None, team) == {CARE_TEAM}
    assert access_changes(team, {**team, "status": "inactive"}) == frozenset()
    labelled = {"resourceType": "Observation", "subject": _ref("Patient/p1"),
                "meta": {"security": [{"code": "R"}]}}  # fmt: skip
    assert access_changes(labelled, {**labelled, "meta": {}}) == {LABELS}
    assert access_changes(None, labelled) == frozenset()  # a new resource: nobody had it
    group = {"resourceType": "Group", "member": [{"entity": _ref("Patient/p1")}]}
    assert access_changes({**group, "member": []}, group) == {GROUP, COMPARTMENT}
    assert access_changes(team, None) == frozenset()
