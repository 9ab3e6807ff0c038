"""The port's contract: every search parameter kind with each of its prefixes, several values
of one parameter OR-ed, several parameters AND-ed (no policy: system reach, no labels)."""

import pytest

from api.data.port import FhirData
from api.data.query import Criterion, IdIn, OwnerIn
from tests.api.data.port_contract.resources import EVERYONE, ids_found

Case = tuple[str, list[tuple[str, str]], list[str]]
UCUM = "http://unitsofmeasure.org"


def _expect(catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]) -> None:
    assert ids_found(catalog, rtype, *params) == ids


STRINGS: list[Case] = [
    ("Patient", [("family", "smi")], ["p1", "p2"]),
    ("Patient", [("family", "SMITH")], ["p1", "p2"]),
    ("Patient", [("family", "smithe")], ["p2"]),
    ("Patient", [("family", "mith")], []),
    ("Patient", [("family", "smith,jones")], ["p1", "p2", "p3"]),
    ("Patient", [("name", "ann")], ["p1", "p2", "p3"]),
    ("Patient", [("given", "an"), ("family", "j")], ["p3"]),
    ("Patient", [("family", "%")], []),
    ("Patient", [("family", "_")], []),
    ("Practitioner", [("name", "hou")], ["d1"]),
]
TOKENS: list[Case] = [
    ("Patient", [("gender", "female")], ["p1"]),
    ("Patient", [("gender", "female,male")], ["p1", "p2"]),
    ("Observation", [("code", "2345-7")], ["o2", "o3"]),
    ("Observation", [("code", "http://loinc.org|2345-7")], ["o2", "o3"]),
    ("Observation", [("code", "http://other.org|2345-7")], []),
    ("Observation", [("code", "|2345-7")], []),
    ("Observation", [("category", "laboratory,vital-signs")], ["o1", "o2", "o3", "o4"]),
    ("Observation", [("status", "final"), ("category", "exam")], ["o5"]),
    ("Observation", [("_id", "o1,o3,nothing")], ["o1", "o3"]),
    ("CareTeam", [("status", "active")], ["ct1", "ct2"]),
]
REFERENCES: list[Case] = [
    ("Observation", [("patient", "p1")], ["o1", "o2"]),
    ("Observation", [("patient", "Patient/p2")], ["o3", "o4"]),
    ("Observation", [("subject", "Patient/p1,Patient/p3")], ["o1", "o2", "o5"]),
    ("Observation", [("encounter", "e1")], ["o1"]),
    ("Observation", [("category", "laboratory"), ("patient", "p2")], ["o3"]),
    ("CareTeam", [("participant", "Practitioner/d2")], ["ct2", "ct3"]),
]
DATES: list[Case] = [
    ("Observation", [("date", "2024-03-10")], ["o1"]),
    ("Observation", [("date", "2024-03")], ["o1", "o2"]),
    ("Observation", [("date", "2024")], ["o1", "o2", "o3"]),
    ("Observation", [("date", "gt2024-03-10")], ["o2"]),
    ("Observation", [("date", "ge2024-03-10")], ["o1", "o2"]),
    ("Observation", [("date", "lt2024-03-10")], ["o3"]),
    ("Observation", [("date", "le2024-03-10")], ["o1", "o3"]),
    ("Observation", [("date", "eq2024-01-01T01:30:00Z")], ["o3"]),
    ("Observation", [("date", "ge2024-01-01T01:30:00Z")], ["o1", "o2", "o3"]),
    ("Observation", [("date", "gt2024-01-01T01:30:00Z")], ["o1", "o2"]),
    ("Observation", [("date", "lt2023,gt2024-03-10")], ["o2"]),
    ("Observation", [("date", "ge2024-03-01"), ("date", "lt2024-03-11")], ["o1"]),
    ("Encounter", [("date", "2024-03-10")], ["e1"]),
    ("Encounter", [("date", "ge2030")], ["e2"]),
    ("Encounter", [("date", "lt2024-02")], ["e2"]),
    ("Encounter", [("date", "le2024-03-10")], ["e1", "e2"]),
    ("Encounter", [("date", "gt2024-03-10T10:00:00Z")], ["e1", "e2"]),
    ("Patient", [("birthdate", "1980")], ["p1", "p2"]),
    ("Patient", [("birthdate", "1980-05")], ["p1"]),
    ("Patient", [("birthdate", "lt1980-06")], ["p1", "p2"]),
    ("Patient", [("birthdate", "gt1980-06")], ["p2", "p3"]),
    ("Patient", [("birthdate", "ge2001-02-03")], ["p3"]),
    ("Patient", [("birthdate", "le1980-01-01")], ["p2"]),
]
QUANTITIES: list[Case] = [
    ("Observation", [("value-quantity", "5.4")], ["o2"]),
    ("Observation", [("value-quantity", "5")], ["o2"]),
    ("Observation", [("value-quantity", "5.40")], ["o2"]),
    ("Observation", [("value-quantity", "5.41")], []),
    ("Observation", [("value-quantity", "72")], []),  # [71.5, 72.5)
    ("Observation", [("value-quantity", "73")], ["o1"]),  # [72.5, 73.5)
    ("Observation", [("value-quantity", "120")], ["o4"]),
    ("Observation", [("value-quantity", "120.0")], ["o4"]),
    ("Observation", [("value-quantity", "120.00")], []),
    ("Observation", [("value-quantity", "gt100")], ["o4"]),
    ("Observation", [("value-quantity", "ge100")], ["o3", "o4"]),
    ("Observation", [("value-quantity", "lt72.5")], ["o2", "o5"]),
    ("Observation", [("value-quantity", "le72.5")], ["o1", "o2", "o5"]),
    ("Observation", [("value-quantity", "lt0")], ["o5"]),
    ("Observation", [("value-quantity", "-3")], ["o5"]),
    ("Observation", [("value-quantity", "eq-3.25")], ["o5"]),
    ("Observation", [("value-quantity", f"ge5|{UCUM}|mg/dL")], ["o3"]),
    ("Observation", [("value-quantity", "ge5||mg/dL")], ["o3"]),
    ("Observation", [("value-quantity", "ge5|http://other.org|mg/dL")], []),
    ("Observation", [("value-quantity", "5.4||kg")], []),
    ("Observation", [("value-quantity", "5.4||mmol/L,lt0||kg")], ["o2", "o5"]),
]


@pytest.mark.parametrize(("rtype", "params", "ids"), STRINGS)
def test_strings_match_case_insensitive_prefixes(
    catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]
) -> None:
    _expect(catalog, rtype, params, ids)


@pytest.mark.parametrize(("rtype", "params", "ids"), TOKENS)
def test_tokens_match_codes_with_or_without_their_system(
    catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]
) -> None:
    _expect(catalog, rtype, params, ids)


@pytest.mark.parametrize(("rtype", "params", "ids"), REFERENCES)
def test_references_match_type_and_id(
    catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]
) -> None:
    _expect(catalog, rtype, params, ids)


@pytest.mark.parametrize(("rtype", "params", "ids"), DATES)
def test_dates_compare_ranges_by_prefix(
    catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]
) -> None:
    _expect(catalog, rtype, params, ids)


@pytest.mark.parametrize(("rtype", "params", "ids"), QUANTITIES)
def test_quantities_compare_by_prefix_precision_and_unit(
    catalog: FhirData, rtype: str, params: list[tuple[str, str]], ids: list[str]
) -> None:
    _expect(catalog, rtype, params, ids)


def test_no_criteria_finds_every_resource_of_the_type(catalog: FhirData) -> None:
    assert ids_found(catalog, "Encounter") == ["e1", "e2", "e3"]
    assert ids_found(catalog, "Condition") == []


@pytest.mark.parametrize(
    ("rtype", "patients", "ids"),
    [
        ("Observation", ("p1", "p3"), ["o1", "o2", "o5"]),
        ("Patient", ("p2",), ["p2"]),
        ("Practitioner", ("p1",), []),
        ("Encounter", ("nobody",), []),
    ],
)
def test_owner_in_finds_the_compartments_of_patients(
    catalog: FhirData, rtype: str, patients: tuple[str, ...], ids: list[str]
) -> None:
    page = catalog.search(rtype, [OwnerIn(patients)], EVERYONE, frozenset(), 100, 0)
    assert [row.id for row in page.rows] == ids and page.total == len(ids)


def test_id_in_and_owner_in_combine(catalog: FhirData) -> None:
    criteria: list[Criterion] = [OwnerIn(("p1",)), IdIn(("o2", "o3"))]
    page = catalog.search("Observation", criteria, EVERYONE, frozenset(), 100, 0)
    assert [row.id for row in page.rows] == ["o2"]


def test_last_updated(store: FhirData) -> None:
    store.save_many([{"resourceType": "Patient", "id": "early"}], "2026-01-01T00:00:00Z")
    store.save_many([{"resourceType": "Patient", "id": "late"}], "2026-02-01T10:00:00Z")
    assert ids_found(store, "Patient", ("_lastUpdated", "lt2026-02-01")) == ["early"]
    assert ids_found(store, "Patient", ("_lastUpdated", "ge2026-02-01")) == ["late"]
    assert ids_found(store, "Patient", ("_lastUpdated", "2026-02")) == ["late"]
    assert ids_found(store, "Patient", ("_lastUpdated", "gt2026-02-01T10:00:00Z")) == []
