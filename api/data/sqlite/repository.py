"""The FHIR resource repository: SQLite in WAL mode, JSON bodies plus search-index rows.

Access reach and hidden labels are applied inside the SQL (never by post-filtering a page),
so totals and paging agree with what the caller may see.
"""

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from api.data.indexing import care_team_links, index_entries
from api.data.port import RepositoryUnavailable, SearchPage, StoredResource
from api.data.query import Alternatives, Criterion, SortKey
from api.data.sql.rows import next_version, stamp
from api.data.sql.search import Sql
from api.data.sql.statements import (
    answer,
    satisfies_sql,
    scan_rows,
    search_statements,
    stored_row,
)
from api.security.access import PatientReach

__all__ = ["ResourceRepository"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL, patient_id TEXT NOT NULL, labels TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX IF NOT EXISTS resources_visible
    ON resources (type, deleted, patient_id, labels, id);
CREATE TABLE IF NOT EXISTS search_index (
    type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT NOT NULL, lo TEXT NOT NULL, hi TEXT NOT NULL,
    patient_id TEXT NOT NULL, labels TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_value
    ON search_index (type, param, value, patient_id, labels, id);
CREATE INDEX IF NOT EXISTS search_range
    ON search_index (type, param, lo, hi, patient_id, labels, id);
CREATE INDEX IF NOT EXISTS search_owner ON search_index (type, id);
CREATE TABLE IF NOT EXISTS care_team_members (
    care_team_id TEXT NOT NULL, practitioner TEXT NOT NULL, patient_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS care_team_by_member ON care_team_members (practitioner, patient_id);
CREATE INDEX IF NOT EXISTS care_team_by_id ON care_team_members (care_team_id);
"""


class ResourceRepository:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise use of the connection; SQLite errors stop here as RepositoryUnavailable."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise RepositoryUnavailable("the FHIR store failed") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._locked():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._locked():
            self._conn.close()

    def is_empty(self) -> bool:
        with self._locked():
            return self._conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        with self._locked():
            row = self._conn.execute(
                "SELECT type, id, version_id, patient_id, labels, body FROM resources "
                "WHERE type = ? AND id = ? AND deleted = 0",
                (resource_type, resource_id),
            ).fetchone()
        return stored_row(row) if row else None

    def save(
        self, resource: dict[str, Any], now_iso: str, expected_version: int | None = None
    ) -> tuple[StoredResource, bool]:
        """Create or update (version bumped, meta maintained); returns (stored, created)."""
        with self._transaction():
            return self._save(resource, now_iso, expected_version)

    def save_many(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        count = 0
        with self._transaction():
            for resource in resources:
                self._save(resource, now_iso)
                count += 1
        return count

    def load_into_empty(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        count = 0
        with self._transaction():  # BEGIN IMMEDIATE: one writer at a time, across processes
            if self._conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is not None:
                return 0
            for resource in resources:
                self._save(resource, now_iso)
                count += 1
        return count

    def _save(
        self, resource: dict[str, Any], now_iso: str, expected_version: int | None = None
    ) -> tuple[StoredResource, bool]:
        rtype, rid = resource["resourceType"], resource["id"]
        row = self._conn.execute(
            "SELECT version_id, deleted FROM resources WHERE type = ? AND id = ?", (rtype, rid)
        ).fetchone()
        current = (row[0], bool(row[1])) if row else None
        version = next_version(f"{rtype}/{rid}", current, expected_version)
        stamped = stamp(resource, version, now_iso)
        stored = stamped.stored
        row_values = (stored.version_id, now_iso, stored.patient_id, stamped.labels, stored.body)
        self._conn.execute(
            "INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
            (rtype, rid, *row_values),
        )
        self._reindex(rtype, rid, stamped.resource, stored.patient_id, stamped.labels)
        return stored, row is None

    def _reindex(
        self,
        rtype: str,
        rid: str,
        resource: dict[str, Any] | None,
        patient: str = "",
        labels: str = "",
    ) -> None:
        self._conn.execute("DELETE FROM search_index WHERE type = ? AND id = ?", (rtype, rid))
        if rtype == "CareTeam":
            self._conn.execute("DELETE FROM care_team_members WHERE care_team_id = ?", (rid,))
        if resource is None:
            return
        self._conn.executemany(
            "INSERT INTO search_index VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(rtype, rid, *entry, patient, labels) for entry in index_entries(resource)],
        )
        self._conn.executemany(
            "INSERT INTO care_team_members VALUES (?, ?, ?)",
            [(rid, member, patient) for member, patient in care_team_links(resource)],
        )

    def delete(self, resource_type: str, resource_id: str, now_iso: str) -> bool:
        with self._transaction():
            cursor = self._conn.execute(
                "UPDATE resources SET deleted = 1, version_id = version_id + 1, "
                "last_updated = ? WHERE type = ? AND id = ? AND deleted = 0",
                (now_iso, resource_type, resource_id),
            )
            if cursor.rowcount:
                self._reindex(resource_type, resource_id, None)
        return cursor.rowcount > 0

    def satisfies(self, resource_type: str, resource_id: str, alternatives: Alternatives) -> bool:
        """Whether the stored resource meets one of the granular-scope alternatives."""
        return bool(self._rows(satisfies_sql(resource_type, resource_id, alternatives)))

    def care_team_member(self, practitioner: str, patient_id: str) -> bool:
        with self._locked():
            row = self._conn.execute(
                "SELECT 1 FROM care_team_members WHERE practitioner = ? AND patient_id = ? LIMIT 1",
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
        """One page of what the caller may see, with the counts the evidence needs (the
        statements run under one hold of the lock)."""
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
        )
        with self._locked():
            return SearchPage(*answer(self._rows, statements))

    def scan(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        alternatives: Alternatives = (),
        batch_size: int = 500,
    ) -> Iterator[list[StoredResource]]:
        """The lock is free between batches."""
        yield from scan_rows(
            self._rows, resource_type, criteria, reach, hidden_labels, alternatives, batch_size
        )

    def _rows(self, sql: Sql) -> list[Any]:
        with self._locked():
            return self._conn.execute(sql.text, sql.args).fetchall()
