"""The FHIR resource repository in PostgreSQL: resources as jsonb (and the exact bytes served),
search-index rows, care-team links, through a psycopg connection pool.

The searches are the SQLite adapter's (api.data.sql), so the access reach, hidden labels and
granular constraints are applied inside the SQL and totals and pages count only what the
caller may see. A save locks the resource's row (or inserts it, retrying when another
process inserted it first), so concurrent saves take successive versions and none is lost.
Every driver or pool failure is raised as RepositoryUnavailable.
"""

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from api.data.port import RepositoryUnavailable, SearchPage, StoredResource
from api.data.postgres.schema import migrate
from api.data.postgres.writes import Connection, unindex, write_all, write_retrying
from api.data.query import Alternatives, Criterion, SortKey
from api.data.sql.search import CARE_TEAM_PATIENTS, IN_CARE_TEAM, Sql
from api.data.sql.statements import (
    answer,
    satisfies_sql,
    scan_rows,
    search_statements,
    stored_row,
)
from api.security.access import PatientReach

__all__ = ["PostgresRepository"]


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:  # the pool's timeouts and closed pool are psycopg errors too
        raise RepositoryUnavailable("the FHIR store failed") from exc


# A practitioner's reach as an array the index is probed with: planning the IN form's
# semi-join took a third of a 20-entry search's time on the server.
_ANY_CARE_TEAM = f"= ANY(ARRAY({CARE_TEAM_PATIENTS}))"


@functools.lru_cache(maxsize=1024)
def _query(text: str) -> bytes:
    """The shared SQL (`?` placeholders, no literal %) in psycopg's placeholders."""
    text = text.replace(IN_CARE_TEAM, _ANY_CARE_TEAM)
    return text.replace("%", "%%").replace("?", "%s").encode()


def _run(conn: Connection, sql: Sql) -> list[tuple[Any, ...]]:
    return conn.execute(_query(sql.text), sql.args).fetchall()


# The advisory lock (per database) that loaders of an empty store take (load_into_empty).
LOAD_LOCK = 7_146_320_158_624_733_186
ANALYZE_AFTER_ROWS = 1000


def _configure(conn: Connection, statement_timeout_ms: int) -> None:
    """Each new connection plans every statement for its own values: a generic plan of the
    policy-aware searches (a patient's compartment, a practitioner's teams) cannot know how
    selective the values are, and was seen scanning where the custom plan takes an index.
    A statement running (or waiting on a lock) longer than the timeout is cancelled by the
    server, so a runaway query answers 503 instead of holding a pooled connection."""
    conn.execute("SET plan_cache_mode = force_custom_plan")
    conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")


def _unbounded(conn: Connection) -> None:
    """No statement timeout until the transaction ends."""
    conn.execute("SET LOCAL statement_timeout = 0")


class PostgresRepository:
    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        timeout_s: float = 10.0,
        statement_timeout_s: float = 15.0,
    ) -> None:
        """`timeout_s`: connecting and waiting for a pooled connection; `statement_timeout_s`:
        the longest one statement of a request may run (0: no bound). Migrations and bulk
        loads are long on purpose and run without it."""
        self._statement_timeout_ms = round(statement_timeout_s * 1000)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            open=False,
            name="fhir-data",
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout_s))},
            configure=functools.partial(
                _configure, statement_timeout_ms=self._statement_timeout_ms
            ),
        )
        try:
            with _translated():
                self._pool.open(wait=True, timeout=timeout_s)
                with self._pool.connection() as conn, conn.transaction():
                    _unbounded(conn)
                    migrate(conn)
        except BaseException:
            self._pool.close()
            raise

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        with _translated(), self._pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, unbounded: bool = False) -> Iterator[Connection]:
        with self._connection() as conn, conn.transaction():
            if unbounded:
                _unbounded(conn)
            yield conn

    def close(self) -> None:
        self._pool.close()

    def is_empty(self) -> bool:
        with self._connection() as conn:
            return conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT type, id, version_id, patient_id, labels, body FROM resources "
                "WHERE type = %s AND id = %s AND deleted = 0",
                (resource_type, resource_id),
            ).fetchone()
        return stored_row(row) if row else None

    def save(
        self, resource: dict[str, Any], now_iso: str, expected_version: int | None = None
    ) -> tuple[StoredResource, bool]:
        with self._transaction() as conn:
            return write_retrying(conn, [resource], now_iso, expected_version)[0]

    def save_many(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        with self._transaction(unbounded=True) as conn:
            count = write_all(conn, resources, now_iso)
        self._analyze_after(count)
        return count

    def _analyze_after(self, count: int, vacuum: bool = False) -> None:
        """Fresh planner statistics after a bulk load: until autovacuum's next round the
        planner would take a freshly loaded table for an empty one (a search over a few
        thousand demo resources then took 10 s instead of 5 ms). `vacuum` also marks the
        pages all-visible, so index-only scans skip the table at once (a whole pass over it:
        for a store's first load, not for each batch of a growing one)."""
        if count >= ANALYZE_AFTER_ROWS:
            command = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
            with self._connection() as conn:  # VACUUM runs outside any transaction
                conn.execute("SET statement_timeout = 0")
                try:
                    conn.execute(f"{command} resources, search_index, care_team_members")
                finally:
                    conn.execute(f"SET statement_timeout = {self._statement_timeout_ms}")

    def load_into_empty(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        """Loaders serialise on an advisory lock; each looks for data only once it holds it
        (READ COMMITTED: it then sees what an earlier loader committed)."""
        with self._transaction(unbounded=True) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
            if conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is not None:
                return 0
            count = write_all(conn, resources, now_iso)
        self._analyze_after(count, vacuum=True)
        return count

    def delete(self, resource_type: str, resource_id: str, now_iso: str) -> bool:
        with self._transaction() as conn:
            deleted = conn.execute(
                "UPDATE resources SET deleted = 1, version_id = version_id + 1, "
                "last_updated = %s WHERE type = %s AND id = %s AND deleted = 0",
                (now_iso, resource_type, resource_id),
            ).rowcount
            if deleted:
                unindex(conn, [(resource_type, resource_id)])
        return deleted > 0

    def satisfies(self, resource_type: str, resource_id: str, alternatives: Alternatives) -> bool:
        with self._connection() as conn:
            return bool(_run(conn, satisfies_sql(resource_type, resource_id, alternatives)))

    def care_team_member(self, practitioner: str, patient_id: str) -> bool:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM care_team_members WHERE practitioner = %s AND patient_id = %s "
                "LIMIT 1",
                (practitioner, patient_id),
            ).fetchone()
        return row is not None

    def search(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        limit: int,
        offset: int,
        count_outside_reach: bool = False,
        alternatives: Alternatives = (),
        sort: Sequence[SortKey] = (),
    ) -> SearchPage:
        statements = search_statements(
            resource_type,
            criteria,
            reach,
            hidden_labels,
            limit,
            offset,
            count_outside_reach,
            alternatives,
            sort,
            one_statement=True,
        )
        with self._connection() as conn:
            return SearchPage(*answer(functools.partial(_run, conn), statements))

    def scan(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        alternatives: Alternatives = (),
        batch_size: int = 500,
    ) -> Iterator[list[StoredResource]]:
        """No connection is held between batches."""
        yield from scan_rows(
            self._run_alone, resource_type, criteria, reach, hidden_labels, alternatives, batch_size
        )

    def _run_alone(self, sql: Sql) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return _run(conn, sql)

    def shared_secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The value every process sharing this database agrees on under `name`: the stored
        one, else `make()` stored now (when two store at once, the first one stored wins)."""
        select = "SELECT value FROM shared_secrets WHERE name = %s"
        with self._connection() as conn:
            row = conn.execute(select, (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO shared_secrets (name, value) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO NOTHING",
                    (name, make()),
                )
                row = conn.execute(select, (name,)).fetchone()
        if row is None:
            raise RepositoryUnavailable(f"the shared value {name!r} could not be stored")
        return bytes(row[0])
