"""Every driver and pool failure leaves the adapter as RepositoryUnavailable: a server that
cannot be reached or refuses the login, a statement the server rejects, a pool with no free
connection in time, a server that goes away (and the recovery once it is back)."""

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from api.data.port import RepositoryUnavailable
from api.data.postgres.repository import PostgresRepository
from tests.api.data.port_contract.resources import NOW, observation, patient
from tests.postgres_server import PostgresServer, fresh_database, with_database


@pytest.fixture
def store(postgres_database: str) -> Iterator[PostgresRepository]:
    opened = PostgresRepository(postgres_database, max_size=1, timeout_s=1.0)
    yield opened
    opened.close()


def test_an_unreachable_server(postgres_server_dsn: str) -> None:
    with psycopg.connect(postgres_server_dsn) as conn:
        port = conn.info.port
    nowhere = postgres_server_dsn.replace(f":{port}/", ":1/")
    began = time.monotonic()
    with pytest.raises(RepositoryUnavailable):
        PostgresRepository(nowhere, timeout_s=1.0)
    assert time.monotonic() - began < 10


def test_a_refused_login(postgres_server_dsn: str) -> None:
    wrong = postgres_server_dsn.replace("fhir_evidence:", "fhir_evidence:wrong", 1)
    with pytest.raises(RepositoryUnavailable):
        PostgresRepository(wrong, timeout_s=1.0)
    with pytest.raises(RepositoryUnavailable):
        PostgresRepository(with_database(postgres_server_dsn, "no_such_db"), timeout_s=1.0)


def test_a_statement_the_server_rejects(store: PostgresRepository) -> None:
    with pytest.raises(RepositoryUnavailable):  # jsonb holds no NUL character
        store.save({**patient("p1"), "name": [{"family": "a\u0000b"}]}, NOW)
    assert store.is_empty()  # the transaction was rolled back
    store.save(patient("p1"), NOW)  # and the connection is usable again
    assert store.read("Patient", "p1") is not None


def test_no_free_connection_in_time(store: PostgresRepository, postgres_database: str) -> None:
    """The pool's one connection waits on a row another client holds locked."""
    store.save(observation("o1", "p1"), NOW)
    with psycopg.connect(postgres_database) as holder:
        holder.execute("SELECT 1 FROM resources WHERE id = 'o1' FOR UPDATE")
        blocked = threading.Thread(target=store.save, args=(observation("o1", "p1"), NOW))
        blocked.start()
        time.sleep(0.3)
        with pytest.raises(RepositoryUnavailable):
            store.read("Observation", "o1")
        holder.rollback()
    blocked.join(10)
    stored = store.read("Observation", "o1")
    assert stored is not None and stored.version_id == 2


def test_a_closed_store(store: PostgresRepository) -> None:
    store.close()
    with pytest.raises(RepositoryUnavailable):
        store.shared_secret("key", lambda: b"x")


def test_a_server_that_goes_away_and_comes_back(
    postgres_server: PostgresServer, postgres_server_dsn: str
) -> None:
    with fresh_database(postgres_server_dsn) as dsn:
        store = PostgresRepository(dsn, max_size=2, timeout_s=1.0)
        try:
            store.save(patient("p1"), NOW)
            postgres_server.stop()
            try:
                for _ in range(3):  # a pooled connection broken, then none to be had
                    with pytest.raises(RepositoryUnavailable):
                        store.read("Patient", "p1")
                with pytest.raises(RepositoryUnavailable):
                    store.save(patient("p2"), NOW)
            finally:
                postgres_server.start()
            assert _recovers(store) < 15
            assert store.save(patient("p2"), NOW)[0].version_id == 1
        finally:
            store.close()


def _recovers(store: PostgresRepository) -> float:
    """Seconds until a read succeeds again."""
    began = time.monotonic()
    while True:
        try:
            if store.read("Patient", "p1") is not None:
                return time.monotonic() - began
        except RepositoryUnavailable:
            if time.monotonic() - began > 30:
                raise
            time.sleep(0.1)
