"""The port's contract: pages by offset and limit over a stable order (sort keys, then the id
in byte order); the policy is applied before paging, so pages have no holes."""

import pytest

from api.data.port import FhirData
from api.data.query import SortKey
from api.fhir.search import parse_search
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import EVERYONE, labelled, observation, patient

BYTE_ORDER = ["10", "9", "B", "C", "a", "a.2", "c-1"]
PEOPLE: list[tuple[str, str, str, str]] = [  # id, family, birth date, last updated
    ("a", "Berg", "1990-01-01", "2026-01-03T00:00:00Z"),
    ("B", "Åberg", "", "2026-01-01T00:00:00Z"),
    ("c-1", "", "1985", "2026-01-02T00:00:00Z"),
    ("C", "berg", "1990-01-01", "2026-01-02T00:00:00Z"),
    ("a.2", "Adams", "", "2026-01-05T00:00:00Z"),
    ("10", "", "1990-01-01T10:00:00Z", "2026-01-04T00:00:00Z"),
    ("9", "Zorn", "1970-06", "2026-01-01T00:00:00Z"),
]


@pytest.fixture
def people(store: FhirData) -> FhirData:
    for rid, family, birth, updated in PEOPLE:
        store.save_many([patient(rid, family=family, birth=birth)], updated)
    return store


def ordered(store: FhirData, sort: str, limit: int = 100, offset: int = 0) -> list[str]:
    keys = parse_search("Patient", [("_sort", sort)]).sort if sort else []
    page = store.search("Patient", [], EVERYONE, frozenset(), limit, offset, sort=keys)
    assert page.total == len(PEOPLE)
    return [row.id for row in page.rows]


def test_without_sort_the_order_is_the_id_in_byte_order(people: FhirData) -> None:
    assert ordered(people, "") == BYTE_ORDER


def test_offset_and_limit_page_through_everything(people: FhirData) -> None:
    pages = [ordered(people, "", 3, offset) for offset in (0, 3, 6)]
    assert pages == [BYTE_ORDER[0:3], BYTE_ORDER[3:6], BYTE_ORDER[6:]]
    assert ordered(people, "", 3, 7) == [] and ordered(people, "", 3, 50) == []


def test_a_zero_limit_counts_without_rows(people: FhirData) -> None:
    page = people.search("Patient", [], EVERYONE, frozenset(), 0, 0)
    assert page.rows == [] and page.total == page.in_reach == page.matching == len(PEOPLE)


@pytest.mark.parametrize(
    ("sort", "ids"),
    [
        ("_id", BYTE_ORDER),
        ("-_id", BYTE_ORDER[::-1]),
        ("birthdate", ["B", "a.2", "9", "c-1", "C", "a", "10"]),  # no value first
        ("-birthdate", ["10", "C", "a", "c-1", "9", "B", "a.2"]),  # no value last
        ("family", ["10", "c-1", "a.2", "C", "a", "9", "B"]),  # lower-cased, then code points
        ("-family,birthdate", ["B", "9", "C", "a", "a.2", "c-1", "10"]),
        ("_lastUpdated", ["9", "B", "C", "c-1", "a", "10", "a.2"]),
        ("-_lastUpdated,-_id", ["a.2", "10", "a", "c-1", "C", "B", "9"]),
    ],
)
def test_sort_keys_then_the_id(people: FhirData, sort: str, ids: list[str]) -> None:
    assert ordered(people, sort) == ids
    assert ordered(people, sort, 2, 3) == ids[3:5]


def test_a_resource_sorts_by_its_smallest_value(store: FhirData) -> None:
    store.save_many(
        [
            {"resourceType": "Patient", "id": "x", "name": [{"given": ["Zed", "Amy"]}]},
            {"resourceType": "Patient", "id": "y", "name": [{"given": ["Bob"]}]},
        ],
        "2026-01-01T00:00:00Z",
    )
    keys = [SortKey("given", "string")]
    page = store.search("Patient", [], EVERYONE, frozenset(), 10, 0, sort=keys)
    assert [row.id for row in page.rows] == ["x", "y"]


def test_the_policy_is_applied_before_paging(store: FhirData) -> None:
    resources = [patient(f"p{n}") for n in range(4)]
    for n in range(24):
        body = observation(f"o{n:02d}", f"p{n % 4}", code="8867-4")
        resources.append(labelled(body, "HIV") if n % 3 == 0 else body)
    store.save_many(resources, "2026-01-01T00:00:00Z")
    reach = PatientReach(Reach.ONE, patient="p1")
    seen: list[str] = []
    for offset in range(0, 30, 4):
        page = store.search("Observation", [], reach, frozenset({"HIV"}), 4, offset)
        seen += [row.id for row in page.rows]
    assert seen == [f"o{n:02d}" for n in range(24) if n % 4 == 1 and n % 3]
