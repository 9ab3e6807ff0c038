"""The port's contract for _include and _revinclude: the routes read each referenced resource
and search the referring ones by reference, under the included type's own policy."""

import pytest

from api.data.port import FhirData
from api.fhir.search import parse_search
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import EVERYONE


@pytest.mark.parametrize(
    ("source", "param", "target", "ids"),
    [
        ("Observation", "patient", "Patient/p1", ["o1", "o2"]),
        ("Observation", "subject", "Patient/p2", ["o3", "o4"]),
        ("Observation", "encounter", "Encounter/e1", ["o1"]),
        ("Encounter", "patient", "Patient/p3", ["e3"]),
        ("CareTeam", "participant", "Practitioner/d2", ["ct2", "ct3"]),
        ("CareTeam", "patient", "Patient/p4", []),
    ],
)
def test_revinclude_finds_what_points_at_a_match(
    catalog: FhirData, source: str, param: str, target: str, ids: list[str]
) -> None:
    criteria = parse_search(source, [(param, target)]).criteria
    page = catalog.search(source, criteria, EVERYONE, frozenset(), 200, 0)
    assert [row.id for row in page.rows] == ids


def test_revinclude_under_the_included_types_policy(catalog: FhirData) -> None:
    criteria = parse_search("Observation", [("patient", "Patient/p2")]).criteria
    team = PatientReach(Reach.CARE_TEAM, practitioner="Practitioner/d1")
    page = catalog.search("Observation", criteria, team, frozenset({"HIV"}), 200, 0)
    assert [row.id for row in page.rows] == ["o4"] and (page.total, page.in_reach) == (1, 2)
    outsider = PatientReach(Reach.ONE, patient="p1")
    page = catalog.search("Observation", criteria, outsider, frozenset(), 200, 0)
    assert page.rows == [] and page.total == 0
    page = catalog.search("Observation", criteria, EVERYONE, frozenset(), 1, 0)
    assert [row.id for row in page.rows] == ["o3"] and page.total == 2


def test_include_reads_each_referenced_resource(catalog: FhirData) -> None:
    observed = catalog.read("Observation", "o1")
    assert observed is not None
    body = observed.as_dict()
    for reference in (body["subject"]["reference"], body["encounter"]["reference"]):
        rtype, _, rid = reference.partition("/")
        included = catalog.read(rtype, rid)
        assert included is not None and (included.resource_type, included.id) == (rtype, rid)
    assert catalog.read("Encounter", "e9") is None
