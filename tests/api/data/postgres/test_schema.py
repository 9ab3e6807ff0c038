"""Migrations at start-up: versioned, applied once, idempotent, and safe when several
processes open one fresh database at once (they serialise on an advisory lock)."""

import threading

import psycopg

from api.data.postgres.repository import PostgresRepository
from api.data.postgres.schema import MIGRATIONS, migrate

VERSIONS = [version for version, _ in MIGRATIONS]


def _recorded(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def test_opening_applies_every_migration_once(postgres_database: str) -> None:
    PostgresRepository(postgres_database).close()
    assert _recorded(postgres_database) == VERSIONS
    with psycopg.connect(postgres_database) as conn:
        assert migrate(conn) == []  # nothing left to apply
    store = PostgresRepository(postgres_database)
    try:
        assert store.is_empty()
    finally:
        store.close()
    assert _recorded(postgres_database) == VERSIONS


def test_processes_opening_a_fresh_database_at_once_all_succeed(postgres_database: str) -> None:
    openers = 4
    start = threading.Barrier(openers)
    errors: list[BaseException] = []
    applied: list[list[int]] = []

    def open_it() -> None:
        try:
            with psycopg.connect(postgres_database) as conn:
                start.wait()
                applied.append(migrate(conn))
            store = PostgresRepository(postgres_database, max_size=1)
            store.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(applied) == [[] for _ in range(openers - 1)] + [VERSIONS]
    assert _recorded(postgres_database) == VERSIONS


def test_repositories_opened_at_once_on_a_fresh_database(postgres_database: str) -> None:
    start = threading.Barrier(3)
    opened: list[PostgresRepository] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(PostgresRepository(postgres_database, max_size=1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in opened:
        store.close()
    assert errors == [] and len(opened) == 3
    assert _recorded(postgres_database) == VERSIONS
