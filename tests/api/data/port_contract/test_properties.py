"""The port's contract as properties: for any small store and any search, the page and its
counts are what the pure policy (decide_resource) and the reference meaning of the criteria
(api.data.matching) say, and a granular-scope check agrees with the search."""

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data.port import FhirData
from api.fhir.search import constraint_alternatives, parse_search
from tests.api.data.port_contract.adapters import AdapterFactory
from tests.api.data.port_contract.oracle import Query, expected
from tests.api.data.port_contract.strategies import (
    LABELS,
    PARAMS,
    SORTS,
    params_of,
    reaches,
    stored_resources,
)

Resource = dict[str, Any]
# `open_store` is a stateless factory: each example opens a store of its own.
FRESH_STORES = [HealthCheck.function_scoped_fixture]


def _fill(store: FhirData, resources: list[tuple[Resource, str, bool]]) -> list[Resource]:
    """Save (and delete some); the bodies as stored of those left."""
    kept: dict[tuple[str, str], Resource] = {}
    for resource, when, deleted in resources:
        stored, _ = store.save(resource, when)
        kept[(stored.resource_type, stored.id)] = stored.as_dict()
        if deleted:
            store.delete(stored.resource_type, stored.id, when)
            del kept[(stored.resource_type, stored.id)]
    return list(kept.values())


@st.composite
def queries(draw: st.DrawFn) -> Query:
    rtype = draw(st.sampled_from(sorted(PARAMS)))
    constraints = draw(st.lists(params_of(rtype, 2).map(tuple), max_size=2))
    sort = draw(st.sampled_from(("", *SORTS[rtype])))
    return Query(
        rtype,
        parse_search(rtype, draw(params_of(rtype, 3))).criteria,
        draw(reaches()),
        frozenset(draw(st.lists(st.sampled_from(LABELS), unique=True))),
        constraint_alternatives(rtype, tuple(constraints)),
        parse_search(rtype, [("_sort", sort)]).sort if sort else [],
        draw(st.integers(0, 6)),
        draw(st.integers(0, 8)),
        draw(st.booleans()),
    )


def _answer(store: FhirData, query: Query) -> tuple[list[str], int, int, int]:
    page = store.search(
        query.resource_type,
        query.criteria,
        query.reach,
        query.hidden_labels,
        query.limit,
        query.offset,
        count_outside_reach=query.count_outside_reach,
        alternatives=query.alternatives,
        sort=query.sort,
    )
    return [row.id for row in page.rows], page.total, page.in_reach, page.matching


@settings(max_examples=100, deadline=None, suppress_health_check=FRESH_STORES)
@given(resources=stored_resources(), searches=st.lists(queries(), min_size=1, max_size=4))
def test_a_search_shows_what_the_policy_decides(
    open_store: AdapterFactory, resources: list[tuple[Resource, str, bool]], searches: list[Query]
) -> None:
    with tempfile.TemporaryDirectory() as directory, open_store(Path(directory)) as store:
        stored = _fill(store, resources)
        for query in searches:
            want = expected(query, stored)
            assert _answer(store, query) == (want.ids, want.total, want.in_reach, want.matching)


@settings(max_examples=50, deadline=None, suppress_health_check=FRESH_STORES)
@given(resources=stored_resources(), searches=st.lists(queries(), min_size=1, max_size=3))
def test_satisfies_and_scan_agree_with_the_search(
    open_store: AdapterFactory, resources: list[tuple[Resource, str, bool]], searches: list[Query]
) -> None:
    with tempfile.TemporaryDirectory() as directory, open_store(Path(directory)) as store:
        _fill(store, resources)
        for query in searches:
            everything = _everything(store, query)
            batches = store.scan(
                query.resource_type,
                query.criteria,
                query.reach,
                query.hidden_labels,
                query.alternatives,
                max(query.limit, 1),
            )
            assert [row.id for batch in batches for row in batch] == everything
            for rid in everything:
                assert store.satisfies(query.resource_type, rid, query.alternatives)


def _everything(store: FhirData, query: Query) -> list[str]:
    page = store.search(
        query.resource_type,
        query.criteria,
        query.reach,
        query.hidden_labels,
        100,
        0,
        alternatives=query.alternatives,
    )
    return [row.id for row in page.rows]
