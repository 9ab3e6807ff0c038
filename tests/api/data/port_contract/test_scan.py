"""The port's contract for exports: `scan` reads everything a search would show, in id order,
batch by batch (never more than the batch size), under the same policy."""

from collections.abc import Sequence

import pytest

from api.data.port import FhirData
from api.data.query import Alternatives, Criterion, OwnerIn
from api.fhir.search import constraint_alternatives, parse_search
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import EVERYONE, NOW, labelled, observation, patient


def _batches(
    store: FhirData,
    size: int,
    criteria: Sequence[Criterion] = (),
    reach: PatientReach = EVERYONE,
    hidden: Sequence[str] = (),
    alternatives: Alternatives = (),
) -> list[list[str]]:
    batches = store.scan("Observation", criteria, reach, frozenset(hidden), alternatives, size)
    return [[row.id for row in batch] for batch in batches]


@pytest.fixture
def observations(store: FhirData) -> FhirData:
    resources = [patient("p1"), patient("p2")]
    for n in range(11):
        body = observation(f"o{n:02d}", f"p{1 + n % 2}", category="laboratory" if n < 6 else "exam")
        resources.append(labelled(body, "HIV") if n in (3, 4) else body)
    store.save_many(resources, NOW)
    return store


ALL_IDS = [f"o{n:02d}" for n in range(11)]


@pytest.mark.parametrize("size", [1, 4, 5, 11, 12, 500])
def test_every_match_once_in_id_order_in_bounded_batches(observations: FhirData, size: int) -> None:
    batches = _batches(observations, size)
    assert [rid for batch in batches for rid in batch] == ALL_IDS
    assert all(0 < len(batch) <= size for batch in batches)
    assert len(batches) in (-(-11 // size), -(-11 // size) + 1)


def test_nothing_to_export_yields_no_rows(store: FhirData) -> None:
    assert [rid for batch in _batches(store, 5) for rid in batch] == []


def test_the_policy_applies(observations: FhirData) -> None:
    labs = constraint_alternatives("Observation", ((("category", "laboratory"),),))
    found = _batches(observations, 2, hidden=("HIV",), alternatives=labs)
    assert [rid for batch in found for rid in batch] == ["o00", "o01", "o02", "o05"]
    one = PatientReach(Reach.ONE, patient="p2")
    found = _batches(observations, 3, reach=one)
    assert [rid for batch in found for rid in batch] == ["o01", "o03", "o05", "o07", "o09"]


def test_criteria_of_group_exports(observations: FhirData) -> None:
    since = parse_search("Observation", [("_lastUpdated", "ge2026-01-01")]).criteria
    found = _batches(observations, 4, criteria=[OwnerIn(("p2", "p9")), *since])
    assert [rid for batch in found for rid in batch] == ["o01", "o03", "o05", "o07", "o09"]
    assert _batches(observations, 4, criteria=[OwnerIn(("p1",)), OwnerIn(("p2",))]) == []


def test_a_scan_shows_what_the_search_counts(observations: FhirData) -> None:
    hidden = frozenset({"HIV"})
    page = observations.search("Observation", [], EVERYONE, hidden, 0, 0)
    scanned = _batches(observations, 3, hidden=("HIV",))
    assert page.total == sum(len(batch) for batch in scanned) == 9 and page.in_reach == 11
