"""The reference meaning of search criteria, judged from one resource's index entries: it
answers every hand-checked case of the port's contract suite like the adapters must."""

import pytest

from api.data.matching import indexed, meets, meets_all, meets_one_of
from api.data.query import IdIn, OwnerIn, TokenIn
from api.fhir.search import parse_search
from tests.api.data.port_contract.catalog import CATALOG
from tests.api.data.port_contract.test_search_params import (
    DATES,
    QUANTITIES,
    REFERENCES,
    STRINGS,
    TOKENS,
)


@pytest.mark.parametrize(
    ("rtype", "params", "ids"), STRINGS + TOKENS + REFERENCES + DATES + QUANTITIES
)
def test_the_catalog_cases(rtype: str, params: list[tuple[str, str]], ids: list[str]) -> None:
    criteria = parse_search(rtype, params).criteria
    found = [
        r["id"] for r in CATALOG if r["resourceType"] == rtype and meets_all(criteria, indexed(r))
    ]
    assert sorted(found) == ids


def test_owners_and_ids() -> None:
    observation = indexed(next(r for r in CATALOG if r["id"] == "o1"))
    practitioner = indexed(next(r for r in CATALOG if r["id"] == "d1"))
    assert meets(OwnerIn(("p1", "p2")), observation) and not meets(OwnerIn(("p2",)), observation)
    assert not meets(OwnerIn(("p1",)), practitioner)
    assert meets(IdIn(("o1",)), observation) and not meets(IdIn(("o2",)), observation)


def test_alternatives() -> None:
    observation = indexed(next(r for r in CATALOG if r["id"] == "o1"))
    vital, lab = TokenIn("category", ("vital-signs",)), TokenIn("category", ("laboratory",))
    assert meets_one_of((), observation)
    assert meets_one_of(((lab,), (vital,)), observation)
    assert not meets_one_of(((lab,), ()), observation)
    assert not meets_one_of(((vital, lab),), observation)
