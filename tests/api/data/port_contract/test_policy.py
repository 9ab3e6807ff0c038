"""The port's contract: the policy applied inside the query. Patient reach (one, care team,
all, none), hidden labels and granular-scope alternatives decide what is returned, and the
counts say how many matches each layer kept (total <= in_reach <= matching)."""

from collections.abc import Sequence
from typing import Any

import pytest

from api.data.port import FhirData, SearchPage
from api.data.query import Alternatives
from api.fhir.search import constraint_alternatives
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.catalog import CATALOG
from tests.api.data.port_contract.resources import EVERYONE, NOW, criteria

NOBODY = PatientReach(Reach.NONE)


def one(patient: str) -> PatientReach:
    return PatientReach(Reach.ONE, patient=patient)


def team_of(practitioner: str) -> PatientReach:
    return PatientReach(Reach.CARE_TEAM, practitioner=f"Practitioner/{practitioner}")


def search(
    store: FhirData,
    rtype: str,
    reach: PatientReach,
    hidden: Sequence[str] = (),
    params: Sequence[tuple[str, str]] = (),
    alternatives: Alternatives = (),
    outside: bool = False,
) -> SearchPage:
    return store.search(
        rtype,
        criteria(rtype, *params),
        reach,
        frozenset(hidden),
        100,
        0,
        count_outside_reach=outside,
        alternatives=alternatives,
    )


def summary(page: SearchPage) -> tuple[list[str], int, int, int]:
    return [row.id for row in page.rows], page.total, page.in_reach, page.matching


def granted(*constraints: tuple[tuple[str, str], ...]) -> Alternatives:
    return constraint_alternatives("Observation", constraints)


@pytest.mark.parametrize(
    ("reach", "hidden", "expected"),
    [
        (one("p1"), (), (["o1", "o2"], 2, 2, 5)),
        (one("p2"), ("HIV",), (["o4"], 1, 2, 5)),
        (one("p4"), (), ([], 0, 0, 5)),
        (team_of("d1"), (), (["o1", "o2", "o3", "o4"], 4, 4, 5)),
        (team_of("d1"), ("HIV",), (["o1", "o2", "o4"], 3, 4, 5)),
        (team_of("d2"), (), (["o3", "o4"], 2, 2, 5)),  # ct3 is inactive
        (team_of("nobody"), (), ([], 0, 0, 5)),
        (NOBODY, (), ([], 0, 0, 5)),
        (EVERYONE, ("R",), (["o1", "o2", "o3", "o4"], 4, 5, 5)),
        (EVERYONE, ("HIV", "PSY"), (["o1", "o2", "o4"], 3, 5, 5)),
    ],
)
def test_reach_and_labels_with_counts(
    catalog: FhirData,
    reach: PatientReach,
    hidden: tuple[str, ...],
    expected: tuple[list[str], int, int, int],
) -> None:
    assert summary(search(catalog, "Observation", reach, hidden, outside=True)) == expected


def test_matches_outside_the_reach_are_counted_only_on_request(catalog: FhirData) -> None:
    cheap = search(catalog, "Observation", one("p2"), ("HIV",))
    assert summary(cheap) == (["o4"], 1, 2, 2)


def test_criteria_and_reach_together(catalog: FhirData) -> None:
    page = search(catalog, "Observation", one("p1"), params=[("patient", "p2")], outside=True)
    assert summary(page) == ([], 0, 0, 2)
    page = search(catalog, "Observation", team_of("d1"), ("HIV",), [("code", "2345-7")], (), True)
    assert summary(page) == (["o2"], 1, 2, 2)


def test_resources_of_nobody_are_within_the_reach_of_every_patient_only(
    catalog: FhirData,
) -> None:
    """Fail closed: a resource without an owning patient is reached by system scopes only.
    Types outside the Patient compartment stay shared because the policy plans them the
    reach of every patient (plan_access), whatever the token's context."""
    assert summary(search(catalog, "Practitioner", EVERYONE)) == (["d1", "d2"], 2, 2, 2)
    for reach in (NOBODY, one("p1"), team_of("d2")):
        assert summary(search(catalog, "Practitioner", reach, outside=True)) == ([], 0, 0, 2)


def test_a_compartment_resource_without_a_patient_is_for_system_scopes_only(
    store: FhirData,
) -> None:
    store.save_many(CATALOG, NOW)
    subjectless: dict[str, Any] = {"resourceType": "Observation", "id": "o-none", "status": "final"}
    group = {"reference": "Group/g1"}
    shapes = [
        subjectless,
        {**subjectless, "id": "o-group", "subject": group},
        {**subjectless, "id": "o-contained", "subject": {"reference": "#p"}},
        {**subjectless, "id": "o-logical", "subject": {"identifier": {"value": "p1"}}},
        {**subjectless, "id": "o-foreign", "subject": {"reference": "http://x.org/Patient/p1"}},
        {**subjectless, "id": "o-two", "subject": {"reference": "Patient/p1"},
         "performer": [{"reference": "Patient/p2"}]},
    ]  # fmt: skip
    store.save_many(shapes, NOW)
    ids = sorted(shape["id"] for shape in shapes)
    for reach in (one("p1"), one("p2"), team_of("d1"), NOBODY):
        page = search(store, "Observation", reach, params=[("_id", ",".join(ids))])
        assert summary(page) == ([], 0, 0, 0)
    every = search(store, "Observation", EVERYONE, params=[("_id", ",".join(ids))])
    assert [row.id for row in every.rows] == ids


def test_a_patient_is_in_its_own_compartment(catalog: FhirData) -> None:
    assert summary(search(catalog, "Patient", one("p3"), outside=True)) == (["p3"], 1, 1, 4)
    assert summary(search(catalog, "Patient", one("p3"), ("R",), outside=True)) == ([], 0, 1, 4)
    assert summary(search(catalog, "Patient", team_of("d1"))) == (["p1", "p2"], 2, 2, 2)


@pytest.mark.parametrize(
    ("alternatives", "hidden", "ids", "in_reach"),
    [
        (granted((("category", "laboratory"),)), (), ["o2", "o3"], 2),
        (granted((("category", "laboratory"),)), ("HIV",), ["o2"], 2),
        (granted((("category", "laboratory"),), (("code", "8480-6"),)), (), ["o2", "o3", "o4"], 3),
        (granted((("category", "vital-signs"), ("patient", "p1"))), (), ["o1"], 1),
        (granted((("category", "laboratory"), ("date", "ge2024-03-01"))), (), ["o2"], 1),
        (granted((("nonsense", "x"),)), (), [], 0),
        ((), (), ["o1", "o2", "o3", "o4", "o5"], 5),
    ],
)
def test_granular_alternatives(
    catalog: FhirData,
    alternatives: Alternatives,
    hidden: tuple[str, ...],
    ids: list[str],
    in_reach: int,
) -> None:
    page = search(catalog, "Observation", EVERYONE, hidden, alternatives=alternatives)
    assert summary(page) == (ids, len(ids), in_reach, in_reach)


def test_granular_alternatives_with_criteria_and_reach(catalog: FhirData) -> None:
    """Outside the reach, `matching` counts what the criteria match, whatever the alternatives;
    within a reach of every patient it is `in_reach`."""
    labs = granted((("category", "laboratory"),))
    page = search(catalog, "Observation", one("p1"), (), [("status", "final")], labs, True)
    assert summary(page) == (["o2"], 1, 1, 5)
    page = search(catalog, "Observation", EVERYONE, ("HIV",), [("status", "final")], labs, True)
    assert summary(page) == (["o2"], 1, 2, 2)


def test_satisfies_judges_one_stored_resource(store: FhirData) -> None:
    store.save_many(CATALOG, NOW)
    labs = granted((("category", "laboratory"),))
    assert store.satisfies("Observation", "o2", labs)
    assert not store.satisfies("Observation", "o1", labs)
    assert store.satisfies("Observation", "o1", granted((("patient", "p1"), ("code", "8867-4"))))
    assert not store.satisfies("Observation", "o1", granted(()))
    assert store.satisfies("Observation", "o1", ())
    assert not store.satisfies("Observation", "missing", labs)
    store.delete("Observation", "o2", NOW)
    assert not store.satisfies("Observation", "o2", labs)
