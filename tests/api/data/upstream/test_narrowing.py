"""The gateway's pure core over whole classes of searches, principals and upstream answers:

- whatever an upstream returns (everything it holds, in any order, duplicated, of another
  type), a page holds only what the policy shows (`decide_resource`, the criteria);
- the narrowed query is a superset: every resource the policy shows passes the upstream
  parameters the gateway sends (an interpreter of exactly the forms it emits), so
  narrowing never loses a match;
- pages assembled from upstream positions cover every visible resource exactly once;
- a count's labelled query finds what the narrowed one kept upstream for its labels: the
  two together count every match the policy withholds for a label exactly once.
"""

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.data.indexing import SEARCH_PARAMS, care_team_links, security_labels
from api.data.matching import IndexedResource, indexed, meets_all, meets_one_of
from api.data.synthetic.dataset import generate_dataset
from api.data.upstream.narrowing import UpstreamParams, labelled_query, narrowed_query
from api.data.upstream.recheck import Judged, PageTally, SearchRules, judge
from api.fhir.search import constraint_alternatives, parse_search
from api.security.access import (
    SENSITIVE_LABELS,
    AccessPlan,
    PatientReach,
    Reach,
    decide_resource,
)

TYPES = ["Patient", "Observation", "Encounter", "Condition", "MedicationRequest", "CareTeam"]
PATIENTS = [f"pat-{n:05d}" for n in range(1, 6)]
SEARCHES: dict[str, list[list[tuple[str, str]]]] = {
    "Patient": [[], [("gender", "female")], [("name", "a")], [("birthdate", "ge1970")],
                [("_id", "pat-00002,pat-00003")], [("active", "true")]],
    "Observation": [[], [("category", "laboratory")], [("date", "ge2024-01-01")],
                    [("date", "lt2023-06"), ("status", "final")], [("value-quantity", "gt5")],
                    [("patient", "Patient/pat-00002")], [("code", "http://loinc.org|8867-4")]],
    "Encounter": [[], [("status", "finished")], [("date", "eq2024")]],
    "Condition": [[], [("code", "86406008")], [("clinical-status", "active")]],
    "MedicationRequest": [[], [("status", "active")], [("authoredon", "le2025-01-01")]],
    "CareTeam": [[], [("status", "active")], [("participant", "Practitioner/prac-0001")]],
}  # fmt: skip
GRANULAR = [(), ((("category", "laboratory"),),), ((("category", "vital-signs"),),
            (("category", "laboratory"),)), ((("status", "final"), ("code", "8867-4")),),
            ((("nonsense", "x"),),)]  # fmt: skip


def _hostile() -> list[Any]:
    """Resources no store of ours would hold as they are, but an upstream may."""
    lab = [{"coding": [{"code": "laboratory"}]}]
    return [
        {"resourceType": "Observation", "id": "h-nobody", "status": "final", "category": lab},
        {"resourceType": "Observation", "id": "h-two", "status": "final", "category": lab,
         "subject": {"reference": "Patient/pat-00001"},
         "performer": [{"reference": "Patient/pat-00002"}]},
        {"resourceType": "Observation", "id": "h-url", "status": "final", "category": lab,
         "subject": {"reference": "https://elsewhere.example/fhir/Patient/pat-00001"}},
        {"resourceType": "Condition", "id": "h-label",
         "subject": {"reference": "Patient/pat-00001"},
         "meta": {"security": [{"system": "x", "code": "PSY"}, {"code": "R"}]}},
        {"resourceType": "Observation", "id": "h-noid", "status": "final"},
        {"resourceType": "Observation", "status": "final",
         "subject": {"reference": "Patient/pat-00001"}},
        "not a resource",
    ]  # fmt: skip


@functools.cache
def universe() -> tuple[Any, ...]:
    return (*generate_dataset(patients=len(PATIENTS), seed=7), *_hostile())


@functools.cache
def care_teams() -> dict[str, frozenset[str]]:
    links: dict[str, set[str]] = {}
    for resource in universe():
        if isinstance(resource, dict) and resource.get("resourceType") == "CareTeam":
            for member, patient in care_team_links(resource):
                links.setdefault(member, set()).add(patient)
    return {member: frozenset(patients) for member, patients in links.items()}


reaches = st.one_of(
    st.just(PatientReach(Reach.ALL)),
    st.just(PatientReach(Reach.NONE)),
    st.sampled_from(PATIENTS).map(lambda p: PatientReach(Reach.ONE, patient=p)),
    st.sampled_from(["Practitioner/prac-0001", "Practitioner/prac-0002", "Practitioner/prac-0003",
                     "Practitioner/nobody"]).map(
        lambda p: PatientReach(Reach.CARE_TEAM, practitioner=p)),
)  # fmt: skip
hidden = st.frozensets(st.sampled_from(sorted(SENSITIVE_LABELS)))


@st.composite
def searches(draw: st.DrawFn) -> tuple[SearchRules, Any]:
    rtype = draw(st.sampled_from(TYPES))
    criteria = parse_search(rtype, draw(st.sampled_from(SEARCHES[rtype]))).criteria
    reach = draw(reaches)
    patients = care_teams().get(reach.practitioner, frozenset())
    constraints = draw(st.sampled_from(GRANULAR)) if rtype == "Observation" else ()
    alternatives = constraint_alternatives(rtype, constraints)
    rules = SearchRules(rtype, criteria, reach, patients, draw(hidden), alternatives)
    plan = AccessPlan(True, reach, rules.hidden_labels, ("scope.granted",), (), constraints)
    return rules, plan


_INDEXED: dict[int, IndexedResource] = {}


def _indexed(resource: dict[str, Any]) -> IndexedResource:
    """The oracle's index of a resource of the universe (computed once per resource)."""
    key = id(resource)
    if key not in _INDEXED:
        _INDEXED[key] = indexed(resource)
    return _INDEXED[key]


def policy_shows(rules: SearchRules, plan: AccessPlan, resource: Any) -> bool:
    """The stores' meaning: the criteria, then the policy's own verdict on the resource."""
    if not isinstance(resource, dict) or resource.get("resourceType") != rules.resource_type:
        return False
    if not isinstance(resource.get("id"), str):
        return False
    index = _indexed(resource)
    if not meets_all(rules.criteria, index):
        return False
    member = index.owner in rules.care_team_patients
    met = meets_one_of(rules.alternatives, index)
    verdict = decide_resource(plan, index.owner, security_labels(resource), member, met)
    return not verdict.denies


@settings(max_examples=100, deadline=None)
@given(search=searches(), order=st.randoms(use_true_random=False), limit=st.integers(1, 7))
def test_any_upstream_answer_shows_only_what_the_policy_shows(
    search: tuple[SearchRules, AccessPlan], order: Any, limit: int
) -> None:
    rules, plan = search
    some = order.sample(universe(), 40)  # an upstream ignoring the narrowing, with duplicates
    answer = [*some, *some[:10], *_hostile()]
    order.shuffle(answer)
    tally = PageTally(limit)
    tally.take(rules, answer)
    assert len(tally.rows) <= limit
    for row in tally.rows:
        resource = row.as_dict()
        assert policy_shows(rules, plan, resource), (row.resource_type, row.id)
        assert row.patient_id == indexed(resource).owner
        assert row.labels == security_labels(resource)


@settings(max_examples=100, deadline=None)
@given(search=searches())
def test_the_narrowed_query_never_loses_a_visible_resource(
    search: tuple[SearchRules, AccessPlan],
) -> None:
    rules, plan = search
    params = narrowed_query(
        rules.resource_type, rules.criteria, rules.reach, rules.care_team_patients,
        rules.hidden_labels, rules.alternatives,
    )  # fmt: skip
    visible = [r for r in universe() if policy_shows(rules, plan, r)]
    if params is None:
        assert visible == []
        return
    assert all(name not in {"_count", "_offset"} for name, _ in params)
    for resource in visible:
        assert passes(params, resource), (resource["id"], params)


@settings(max_examples=60, deadline=None)
@given(search=searches(), limit=st.integers(1, 9))
def test_pages_by_position_cover_every_visible_resource_once(
    search: tuple[SearchRules, AccessPlan], limit: int
) -> None:
    rules, plan = search
    answer = [
        r
        for r in universe()
        if isinstance(r, dict) and r.get("resourceType") == rules.resource_type
    ]
    shown: list[str] = []
    position = 0
    while position < len(answer):
        tally = PageTally(limit)
        tally.take(rules, answer[position:])
        shown += [row.id for row in tally.rows]
        position += tally.examined
    expected = [r["id"] for r in answer if judge(rules, r)[0] is Judged.VISIBLE]
    assert shown == expected
    assert expected == [r["id"] for r in answer if policy_shows(rules, plan, r)]


@settings(max_examples=100, deadline=None)
@given(search=searches())
def test_a_count_finds_every_match_withheld_for_a_label_once(
    search: tuple[SearchRules, AccessPlan],
) -> None:
    """What the stores count as withheld by labels (shown were the labels not hidden, not
    shown as they are) is what the re-check judges LABELLED among the answers to the
    narrowed query and the labelled one, each such resource in exactly one of them."""
    rules, plan = search
    params = narrowed_query(
        rules.resource_type, rules.criteria, rules.reach, rules.care_team_patients,
        rules.hidden_labels, rules.alternatives,
    )  # fmt: skip
    unlabelled = dataclasses.replace(rules, hidden_labels=frozenset())
    bare = dataclasses.replace(plan, hidden_labels=frozenset())
    shown = functools.partial(policy_shows, rules, plan)
    withheld = [r for r in universe() if policy_shows(unlabelled, bare, r) and not shown(r)]
    if params is None:
        assert withheld == []
        return
    labelled = labelled_query(params)
    asked = [params] if labelled is None else [params, labelled]
    for resource in withheld:
        assert sum(passes(query, resource) for query in asked) == 1, (resource["id"], asked)
    answers = [r for query in asked for r in universe() if isinstance(r, dict)
               and r.get("resourceType") == rules.resource_type and passes(query, r)]  # fmt: skip
    judged = [judge(rules, r)[0] for r in answers]
    assert judged.count(Judged.LABELLED) == len(withheld)


# An interpreter of the parameters the narrowing emits, over our own index of a resource
# (FHIR's meaning of each form; the upstream's own quirks are what the re-check is for).


def passes(params: UpstreamParams, resource: dict[str, Any]) -> bool:
    index = _indexed(resource)
    return all(_passes(name, value, index, resource) for name, value in params)


def _passes(name: str, value: str, index: IndexedResource, resource: dict[str, Any]) -> bool:
    if name == "_sort":
        return True
    if name == "_security:not":
        return value not in security_labels(resource)
    if name == "_security":
        return bool(set(value.split(",")) & security_labels(resource))
    entries = index.values(name)
    if value[:2] in {"ge", "le"} and value[2:3].isdigit():
        bound = value[2:].rstrip("Z")
        return any((e[3] >= bound) if value[:2] == "ge" else (e[2] <= bound) for e in entries)
    kind = SEARCH_PARAMS[resource["resourceType"]][name].kind
    return any(_value_passes(kind, e[1], value.split(",")) for e in entries)


def _value_passes(kind: str, indexed_value: str, wanted: Sequence[str]) -> bool:
    if kind == "string":  # FHIR: starts with, case-insensitive
        return any(indexed_value.startswith(w.lower()) for w in wanted)
    return indexed_value in wanted  # tokens, references, ids: exactly
