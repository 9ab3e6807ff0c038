"""Writes of the PostgreSQL adapter: a batch of resources in a few statements (rows locked,
versions taken, bodies upserted, index rows replaced), safe against concurrent writers."""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import psycopg

from api.data.indexing import care_team_links, index_entries
from api.data.port import StoredResource
from api.data.sql.rows import Stamped, next_version, stamp

__all__ = ["Connection", "unindex", "write_all", "write_retrying"]

Connection = psycopg.Connection[tuple[Any, ...]]
BATCH = 500  # resources written per statement by save_many
COPY_ABOVE = 200  # index rows sent by COPY beyond this many (one save: one INSERT)
COPY_RESOURCES_ABOVE = 20  # a batch of new resources larger than this is sent by COPY
_COPY_RESOURCES = (
    "COPY resources (type, id, version_id, last_updated, patient_id, labels, deleted, body, "
    "resource) FROM STDIN"
)
_RESOURCE_TYPES = ["text", "text", "int4", "text", "text", "text", "int2", "bytea", "jsonb"]


class _Raced(Exception):
    """Another process inserted a resource this batch took for new: lock it and try again."""


def batches(resources: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Batches of at most BATCH resources, none naming one resource twice, each in key order
    (concurrent loads then lock shared rows in one order: no deadlock)."""
    iterator = iter(resources)
    while chunk := list(islice(iterator, BATCH)):
        batch: list[dict[str, Any]] = []
        keys: set[tuple[str, str]] = set()
        for resource in chunk:
            key = _key(resource)
            if key in keys:
                yield sorted(batch, key=_key)
                batch, keys = [], set()
            batch.append(resource)
            keys.add(key)
        yield sorted(batch, key=_key)


def _key(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["resourceType"], resource["id"]


def write_all(conn: Connection, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
    """Every resource, batch by batch, in the caller's transaction; returns how many."""
    count = 0
    for batch in batches(resources):
        write_retrying(conn, batch, now_iso, None)
        count += len(batch)
    return count


def write_retrying(
    conn: Connection, batch: list[dict[str, Any]], now_iso: str, expected_version: int | None
) -> list[tuple[StoredResource, bool]]:
    """_write again while another process creates one of the resources first: in a savepoint
    (a lost race of one resource wrote nothing, so one alone needs none)."""
    while True:
        try:
            if len(batch) == 1:
                return _write(conn, batch, now_iso, expected_version)
            with conn.transaction():
                return _write(conn, batch, now_iso, expected_version)
        except _Raced:
            continue


def _write(
    conn: Connection, batch: list[dict[str, Any]], now_iso: str, expected_version: int | None
) -> list[tuple[StoredResource, bool]]:
    """Lock the rows there are, give each resource its next version, write rows and index."""
    types = [resource["resourceType"] for resource in batch]
    ids = [resource["id"] for resource in batch]
    locked = conn.execute(
        "SELECT type, id, version_id, deleted FROM resources WHERE (type, id) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY type, id FOR UPDATE",
        (types, ids),
    ).fetchall()
    current = {(rtype, rid): (version, bool(deleted)) for rtype, rid, version, deleted in locked}
    stamped = [
        stamp(resource, next_version(f"{rtype}/{rid}", current.get((rtype, rid)), expected_version),
              now_iso)
        for resource, rtype, rid in zip(batch, types, ids, strict=True)
    ]  # fmt: skip
    if len(batch) > COPY_RESOURCES_ABOVE and not current:
        written = _copy_new(conn, stamped, now_iso)
    else:
        written = _upsert(conn, stamped, now_iso)
    if written != len(batch):
        raise _Raced
    unindex(conn, list(current))
    _index(conn, stamped)
    return [
        (s.stored, key not in current)
        for s, key in zip(stamped, zip(types, ids, strict=True), strict=True)
    ]


def _upsert(conn: Connection, stamped: list[Stamped], now_iso: str) -> int:
    """Rows written: each new one, or the update of the version it follows."""
    return conn.execute(
        "INSERT INTO resources AS r (type, id, version_id, last_updated, patient_id, labels, "
        "deleted, body, resource) "
        "SELECT t, i, v, %s, p, l, 0, b, convert_from(b, 'UTF8')::jsonb FROM "
        "unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::bytea[]) "
        "AS u(t, i, v, p, l, b) "
        "ON CONFLICT (type, id) DO UPDATE SET version_id = excluded.version_id, "
        "last_updated = excluded.last_updated, patient_id = excluded.patient_id, "
        "labels = excluded.labels, deleted = 0, body = excluded.body, "
        "resource = excluded.resource WHERE r.version_id = excluded.version_id - 1",
        (
            now_iso,
            [s.stored.resource_type for s in stamped],
            [s.stored.id for s in stamped],
            [s.stored.version_id for s in stamped],
            [s.stored.patient_id for s in stamped],
            [s.labels for s in stamped],
            [s.stored.body for s in stamped],
        ),
    ).rowcount


def _copy_new(conn: Connection, stamped: list[Stamped], now_iso: str) -> int:
    """A batch of resources none of which is stored, by COPY (a third less server time than
    the INSERT's arrays). One another process stored meanwhile breaks the key: raced."""
    try:
        with conn.cursor() as cursor, cursor.copy(_COPY_RESOURCES) as copy:
            copy.set_types(_RESOURCE_TYPES)
            for s in stamped:
                stored = s.stored
                copy.write_row((stored.resource_type, stored.id, stored.version_id, now_iso,
                                stored.patient_id, s.labels, 0, stored.body,
                                stored.body.decode()))  # fmt: skip
    except psycopg.errors.UniqueViolation:
        raise _Raced from None
    return len(stamped)


def unindex(conn: Connection, keys: list[tuple[str, str]]) -> None:
    if not keys:
        return
    types, ids = [key[0] for key in keys], [key[1] for key in keys]
    conn.execute(
        "DELETE FROM search_index WHERE (type, id) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
        (types, ids),
    )
    teams = [rid for rtype, rid in keys if rtype == "CareTeam"]
    if teams:
        conn.execute("DELETE FROM care_team_members WHERE care_team_id = ANY(%s)", (teams,))


def _index(conn: Connection, stamped: list[Stamped]) -> None:
    rows = [
        (s.stored.resource_type, s.stored.id, *entry, s.stored.patient_id, s.labels)
        for s in stamped
        for entry in index_entries(s.resource)
    ]
    if len(rows) > COPY_ABOVE:
        with conn.cursor() as cursor, cursor.copy("COPY search_index FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    elif rows:
        conn.execute(
            "INSERT INTO search_index SELECT * FROM unnest(%s::text[], %s::text[], "
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])",
            [list(column) for column in zip(*rows, strict=True)],
        )
    links = [
        (s.stored.id, member, patient)
        for s in stamped
        for member, patient in care_team_links(s.resource)
    ]
    if links:
        conn.execute(
            "INSERT INTO care_team_members SELECT * FROM "
            "unnest(%s::text[], %s::text[], %s::text[])",
            [list(column) for column in zip(*links, strict=True)],
        )
