"""What a request disclosed, as a value (api.security.disclosure): sums and row facts."""

from hypothesis import given
from hypothesis import strategies as st

from api.security.disclosure import NOTHING, Disclosure, disclosed_rows

disclosures = st.builds(
    Disclosure,
    st.lists(st.sampled_from(["Patient/p1", "Observation/o1", "Observation/o2"]), max_size=3).map(
        tuple
    ),
    st.frozensets(st.sampled_from(["p1", "p2", "p3"]), max_size=3),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(0, 5),
)


@given(disclosures, disclosures, disclosures)
def test_sums_add_up_in_order(a: Disclosure, b: Disclosure, c: Disclosure) -> None:
    assert (a + b) + c == a + (b + c)
    total = a + b
    assert total.resource_ids == a.resource_ids + b.resource_ids
    assert total.patient_ids == a.patient_ids | b.patient_ids
    assert (total.returned, total.withheld, total.redacted) == (
        a.returned + b.returned, a.withheld + b.withheld, a.redacted + b.redacted,
    )  # fmt: skip


@given(disclosures)
def test_nothing_is_the_identity(d: Disclosure) -> None:
    assert d + NOTHING == d == NOTHING + d
    assert bool(d) == (d != NOTHING)


def test_rows_name_their_resources_and_owners() -> None:
    rows = [("Observation", "o1", "p1"), ("Practitioner", "x", ""), ("Observation", "o2", "p1")]
    assert disclosed_rows(rows, withheld=2) == Disclosure(
        ("Observation/o1", "Practitioner/x", "Observation/o2"), frozenset({"p1"}), 3, 2
    )
    assert disclosed_rows([]) == NOTHING
