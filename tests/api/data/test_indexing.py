"""Index extraction: sortable numbers keep numeric order; quantities index unit and number."""

from hypothesis import given
from hypothesis import strategies as st

from api.data.indexing import index_entries, sortable_number

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(FINITE, FINITE)
def test_sortable_number_keeps_order(a: float, b: float) -> None:
    if a < b:
        assert sortable_number(a) < sortable_number(b)
    elif a == b and str(a) == str(b):
        assert sortable_number(a) == sortable_number(b)


def test_quantity_entries() -> None:
    observation = {
        "resourceType": "Observation", "id": "o1",
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }  # fmt: skip
    rows = {(p, v) for p, v, lo, hi in index_entries(observation) if p == "value-quantity"}
    assert rows == {
        ("value-quantity", "/min"),
        ("value-quantity", "http://unitsofmeasure.org|/min"),
    }
