"""A granular scope judged on a body (a write not stored yet, a Group to export) means what
it means for the stored resource: `resource_satisfies` on the body as stored agrees with the
data port's `satisfies`, for every drawn resource and constraint set. (A body not stored yet
has no server-set `meta.lastUpdated`: a constraint on `_lastUpdated` refuses it, the safe
side.)"""

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data.sqlite.repository import ResourceRepository
from api.fhir.search import constraint_alternatives, resource_satisfies
from tests.api.data.port_contract.strategies import PARAMS, a_patient, an_observation, params_of

Resource = dict[str, Any]


@st.composite
def bodies_and_constraints(
    draw: st.DrawFn,
) -> tuple[Resource, tuple[tuple[tuple[str, str], ...], ...]]:
    body = draw(st.one_of(a_patient("p1"), an_observation("o1")))
    rtype = body["resourceType"]
    constraints = draw(st.lists(params_of(rtype, 2).map(tuple), max_size=3))
    return body, tuple(constraints)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies_and_constraints())
def test_a_body_meets_its_constraints_exactly_when_the_stored_resource_does(
    drawn: tuple[Resource, tuple[tuple[tuple[str, str], ...], ...]],
) -> None:
    body, constraints = drawn
    rtype = body["resourceType"]
    assert rtype in PARAMS
    with tempfile.TemporaryDirectory() as directory:
        store = ResourceRepository(Path(directory) / "fhir.sqlite")
        try:
            stored, _ = store.save(body, "2026-01-01T00:00:00Z")
            alternatives = constraint_alternatives(rtype, constraints)
            in_store = not alternatives or store.satisfies(rtype, stored.id, alternatives)
            assert resource_satisfies(stored.as_dict(), constraints) == in_store
        finally:
            store.close()


def test_no_constraints_is_unconstrained_and_an_unparsable_one_matches_nothing() -> None:
    body = {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}  # fmt: skip
    assert resource_satisfies(body, ())
    assert not resource_satisfies(body, ((("no-such-param", "1"),),))
    assert not resource_satisfies(body, ((("date", "not-a-date"),),))
