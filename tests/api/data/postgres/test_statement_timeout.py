"""A statement of a request that runs (or waits on a lock) longer than the store's statement
timeout is cancelled by the server: RepositoryUnavailable (the API's 503), the pooled
connection usable again at once. Bulk loads are long on purpose and are not bounded."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from api.data.port import RepositoryUnavailable
from api.data.postgres.repository import PostgresRepository
from api.data.query import ReferenceIn
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import NOW, observation, patient

TIMEOUT_S = 0.3
ALL = PatientReach(Reach.ALL)


@pytest.fixture
def store(postgres_database: str) -> Iterator[PostgresRepository]:
    opened = PostgresRepository(postgres_database, max_size=1, statement_timeout_s=TIMEOUT_S)
    opened.save(patient("p1"), NOW)
    opened.save(observation("o1", "p1"), NOW)
    yield opened
    opened.close()


def _search(store: PostgresRepository) -> object:
    criteria = [ReferenceIn("patient", ("Patient/p1",))]
    return store.search("Observation", criteria, ALL, frozenset(), 20, 0)


def _save(store: PostgresRepository) -> object:
    return store.save(patient("p2"), NOW)


CALLS: dict[str, Callable[[PostgresRepository], object]] = {
    "read": lambda store: store.read("Patient", "p1"),
    "search": _search,
    "save": _save,
    "care team": lambda store: store.care_team_member("Practitioner/x", "p1"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_statement_held_past_the_timeout_is_cancelled(
    store: PostgresRepository, postgres_database: str, call: str
) -> None:
    with psycopg.connect(postgres_database) as holder:  # a transaction holding every table
        holder.execute("LOCK TABLE resources, search_index, care_team_members")
        began = time.monotonic()
        with pytest.raises(RepositoryUnavailable):
            CALLS[call](store)
        waited = time.monotonic() - began
        holder.rollback()
    assert TIMEOUT_S * 0.9 <= waited < TIMEOUT_S + 5
    assert store.read("Patient", "p2") is None  # nothing written; the connection works
    assert _search(store) is not None


def test_a_bulk_load_waits_past_the_timeout(
    store: PostgresRepository, postgres_database: str
) -> None:
    loaded: list[Any] = []
    with psycopg.connect(postgres_database) as holder:
        holder.execute("LOCK TABLE resources")
        loading = threading.Thread(
            target=lambda: loaded.append(store.save_many([patient("p3"), patient("p4")], NOW))
        )
        loading.start()
        time.sleep(TIMEOUT_S * 3)
        holder.rollback()
    loading.join(10)
    assert loaded == [2]
    assert store.read("Patient", "p4") is not None


def test_the_default_bound_is_fifteen_seconds(postgres_database: str) -> None:
    store = PostgresRepository(postgres_database, max_size=1)
    try:
        with store._connection() as conn:
            row = conn.execute("SHOW statement_timeout").fetchone()
        assert row is not None and row[0] == "15s"
    finally:
        store.close()
