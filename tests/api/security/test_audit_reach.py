"""Whose audit evidence an AuditEvent scope reaches, against an oracle written row by row:
every granular constraint and the user context enforced, anything else fails closed."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.security.audit_reach import audit_reach, confine, row_within
from api.security.principal import Principal
from api.security.scopes import parse_scope, parse_scope_claim

PATIENTS = ("p1", "p2", "p3")
AGENTS = ("a1", "a2")
CONSTRAINTS = (
    "",
    "?patient=Patient/p1",
    "?patient=p2",
    "?agent=a1",
    "?patient=p1&agent=a2",
    "?agent=a1&agent=a2",
    "?outcome=0",
    "?entity=Patient/p1",
    "?date=ge2026-01-01",
    "?patient=Practitioner/p1",
)
SCOPE = st.builds(
    lambda context, perms, constraint: f"{context}/AuditEvent.{perms}{constraint}",
    st.sampled_from(("system", "user", "patient")),
    st.sampled_from(("rs", "read", "s", "cruds")),
    st.sampled_from(CONSTRAINTS),
)
FHIR_USERS = (
    *("", "Practitioner/x", "PractitionerRole/x", "Patient/p1", "Patient/p2", "Patient/"),
    *("https://h.example/fhir/Patient/p3", "RelatedPerson/r", "Device/d"),
)
ROW = st.tuples(st.sets(st.sampled_from(PATIENTS)).map(frozenset), st.sampled_from(AGENTS))


def principal(scopes: list[str], fhir_user: str, patient: str) -> Principal:
    parsed, known, _ = parse_scope_claim(" ".join([*scopes, "system/*.rs"]))
    return Principal(sub="auditor", issuer="i", scopes=parsed, fhir_user=fhir_user,
                     patient=patient, known_scopes=frozenset(known))  # fmt: skip


def oracle(who: Principal, row: tuple[frozenset[str], str]) -> bool:
    """May `who` read the row (its patients, its agent)? Each scope judged on its own."""
    patients, agent = row
    return any(_scope_admits(who, raw, patients, agent) for raw in _granting(who))


def _granting(who: Principal) -> list[str]:
    return [s.raw for s in who.scopes if s.permits("AuditEvent", "search")]


def _scope_admits(who: Principal, raw: str, patients: frozenset[str], agent: str) -> bool:
    scope = parse_scope(raw)
    assert scope is not None
    named = {n: {v for k, v in scope.constraints if k == n} for n in ("patient", "agent")}
    asked = {v.removeprefix("Patient/") for v in named["patient"]}
    if scope.context == "patient":
        if not who.patient or who.patient not in patients:
            return False
        asked.add(who.patient)  # a constraint naming another patient contradicts the context
    if scope.context == "user":
        kind, _, rid = who.fhir_user.rpartition("/")
        kind = kind.rpartition("/")[2]
        if who.fhir_user and kind not in ("Practitioner", "PractitionerRole", "Patient"):
            return False
        if who.fhir_user and not rid:
            return False
        if kind == "Patient":
            if rid not in patients:
                return False
            asked.add(rid)
    if any(k not in named for k, _ in scope.constraints):
        return False  # a constraint the view cannot enforce grants nothing
    if len(asked) > 1 or len(named["agent"]) > 1:
        return False  # constraints that contradict each other (or the context) reach nothing
    if any(not p or "/" in p for p in asked) or "" in named["agent"]:
        return False
    return asked <= patients and named["agent"] <= {agent}


def reach_of(who: Principal) -> Any:
    return audit_reach(who, tuple(_granting(who)))


def admitted(patient: str, agent: str, row: tuple[frozenset[str], str]) -> bool:
    return (not patient or patient in row[0]) and (not agent or agent == row[1])


WHO = st.builds(
    principal,
    st.lists(SCOPE, max_size=3),
    st.sampled_from(FHIR_USERS),
    st.sampled_from(("", *PATIENTS)),
)
ASK = st.tuples(st.sampled_from(("", *PATIENTS)), st.sampled_from(("", *AGENTS)))


@given(WHO, ASK, st.lists(ROW, max_size=12))
def test_a_confined_question_admits_only_rows_the_scopes_reach(
    who: Principal, ask: tuple[str, str], rows: list[tuple[frozenset[str], str]]
) -> None:
    confined = confine(reach_of(who), *ask)
    if confined is None:
        return
    assert confined.patient in ("", ask[0]) or not ask[0]
    assert ask[0] in ("", confined.patient) and ask[1] in ("", confined.agent)
    for row in rows:
        if admitted(confined.patient, confined.agent, row):
            assert oracle(who, row), (who.scopes, who.fhir_user, ask, confined, row)
        if confined.own_patient and admitted(confined.patient, confined.agent, row):
            assert confined.own_patient in row[0]


@given(WHO, st.lists(ROW, max_size=12))
def test_a_row_read_by_id_is_within_reach_exactly_when_the_oracle_says_so(
    who: Principal, rows: list[tuple[frozenset[str], str]]
) -> None:
    reach = reach_of(who)
    for patients, agent in rows:
        within = row_within(reach, sorted(patients), agent, lambda p: p)
        assert (within is not None) == oracle(who, (patients, agent))


@given(WHO)
def test_unconstrained_means_every_row(who: Principal) -> None:
    every = [(frozenset(ps), a) for ps in ((), ("p1",), ("p2", "p3")) for a in AGENTS]
    assert reach_of(who).unconstrained == all(oracle(who, row) for row in every)


@given(WHO, ASK)
def test_an_unconstrained_token_is_asked_exactly_what_it_asks(
    who: Principal, ask: tuple[str, str]
) -> None:
    if reach_of(who).unconstrained:
        confined = confine(reach_of(who), *ask)
        assert confined is not None
        assert (confined.patient, confined.agent, confined.own_patient) == (*ask, "")


def test_examples_of_the_review() -> None:
    by_agent = principal(["system/AuditEvent.rs?agent=a1"], "", "")
    assert confine(reach_of(by_agent), "p1", "a2") is None
    assert confine(reach_of(by_agent), "p1") is not None
    assert not reach_of(by_agent).unconstrained
    by_patient = principal(["system/AuditEvent.rs?patient=Patient/p1"], "", "")
    assert confine(reach_of(by_patient), "p2") is None
    patient_user = principal(["user/AuditEvent.rs"], "Patient/p1", "")
    assert confine(reach_of(patient_user), "p2") is None
    mine = confine(reach_of(patient_user))
    assert mine is not None and (mine.patient, mine.own_patient) == ("p1", "p1")
    staff = principal(["user/AuditEvent.rs"], "Practitioner/x", "")
    assert reach_of(staff).unconstrained
    assert not reach_of(principal(["system/AuditEvent.rs?outcome=0"], "", "")).confinements
    wildcard = principal([], "", "")
    assert not reach_of(wildcard).confinements  # system/*.rs never covers AuditEvent
