"""The by-patient index: one row per (patient pseudonym, event), sorted by (patient_hash, ts_us,
event_id), filled by the ingest views next to `access_events` (see `ingest`).

A patient's accesses must come back in a few milliseconds from a store of tens of millions of
events, so the index carries the event itself rather than a pointer to it: the columns the
auditor filters use, and the whole row packed as one JSON string (`row`). Reading one string
column from small granules of a few yearly parts is what makes the lookup cheap; following
keys into the wide, monthly `access_events` read ~40 columns in ~25 parts per patient.

The copy is evidence too, so it is checked twice:
- at read time (`unpack`): a packed row whose content does not hash to its `event_hash`
  (the chain hash, recomputed with `evidence.core`) is not served; the caller reads that
  event from `access_events` instead, and counts the mismatch;
- by `verify` (`index_check.patient_index_problems`): each entry's `event_hash`, time,
  principal and filter columns must equal those of its event, and every patient of every
  event must have exactly its entry.
So an edited copy is either refused when read (content no longer matches its hash) or named
by `verify` (its hash no longer matches the chained event).
"""

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from evidence.core.record import row_matches_hash
from evidence.store.columns import INT_COLUMNS, ROW_COLUMNS, with_added_columns

# Columns the reconstruction filters use (`access_query._filters`), kept as real columns.
FILTER_COLUMNS: tuple[str, ...] = (
    "sub", "decision", "action", "resource_type", "client_id", "status", "count_returned",
    "resource_hashes", "patient_hashes",
)  # fmt: skip
# What `verify` compares between an entry and its event (stored_at differs legitimately
# between two deliveries of one event that have not been merged yet, so it is left out).
CHECKED_COLUMNS: tuple[str, ...] = ("ts_us", "event_hash", *FILTER_COLUMNS)
PACKED_SELECT = "sub, ts_us, event_id, event_hash, stored_at, row"
# FINAL per partition: an event's copies always share a partition (it derives from ts_us).
READ_SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1"
_ROW_KEYS = frozenset(ROW_COLUMNS)


def index_statements(database: str, ttl: str) -> list[str]:
    """DDL of the index table (idempotent)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {database}.access_by_patient (
    patient_hash String,
    ts_us Int64,
    event_id String,
    ts DateTime64(6, 'UTC'),
    sub String,
    decision LowCardinality(String),
    action LowCardinality(String),
    resource_type LowCardinality(String),
    client_id String,
    status UInt16,
    count_returned UInt32,
    resource_hashes Array(String),
    patient_hashes Array(String),
    event_hash String,
    stored_at DateTime64(3, 'UTC'),
    row String
) ENGINE = ReplacingMergeTree
PARTITION BY toYear(ts)
ORDER BY (patient_hash, ts_us, event_id)
{ttl}
SETTINGS index_granularity = 256, min_compress_block_size = 4096,
    max_compress_block_size = 16384, non_replicated_deduplication_window = 1000""",
    ]


def _entries_select(database: str) -> str:
    packed = ", ".join(ROW_COLUMNS)
    return (
        "SELECT arrayJoin(patient_hashes) AS patient_hash, ts_us, event_id, ts, "
        f"{', '.join(FILTER_COLUMNS)}, event_hash, stored_at, "
        f"formatRowNoNewline('JSONEachRow', {packed}) AS row FROM {database}.access_events"
    )


class _Commands(Protocol):
    def command(self, sql: str, params: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> Any: ...  # fmt: skip

    def select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]: ...


def drop_narrow_index(store: _Commands, database: str) -> bool:
    """Stores created before the index carried its rows have a narrow index (keys only):
    drop it and its view, so the schema statements create the new ones; then refill it with
    `fill_index`. True if there was one (a no-op afterwards)."""
    found = store.select(
        "SELECT groupArray(name) AS names FROM system.columns "
        "WHERE database = {d:String} AND table = 'access_by_patient'",
        {"d": database},
    )
    names = set(found[0]["names"]) if found else set()
    if not names or "row" in names:
        return False
    store.command(f"DROP VIEW IF EXISTS {database}.access_by_patient_mv")
    store.command(f"DROP TABLE IF EXISTS {database}.access_by_patient")
    return True


def fill_index(store: _Commands, database: str) -> None:
    """The index entries of every stored event, the packed rows rendered by the engine (the
    ingest views fill it for new inserts); for stores migrated from a narrow index."""
    store.command(f"INSERT INTO {database}.access_by_patient {_entries_select(database)}")


def unpack(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any] | None], list[int]]:
    """Rows of `PACKED_SELECT` as event rows (READ_COLUMNS); the positions whose copy is not
    the event it claims to be are None, and listed (read them from `access_events`)."""
    out: list[dict[str, Any] | None] = []
    refused: list[int] = []
    for index, packed in enumerate(rows):
        event = _event(packed)
        if event is None:
            refused.append(index)
        out.append(event)
    return out, refused


def _event(packed: dict[str, Any]) -> dict[str, Any] | None:
    try:
        event = orjson.loads(packed["row"])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    event = with_added_columns(event)  # a copy stored before a column was added
    if event.keys() != _ROW_KEYS:
        return None
    try:
        for name in INT_COLUMNS:
            event[name] = int(event[name])
        ok = (
            event["event_id"] == packed["event_id"]
            and event["ts_us"] == packed["ts_us"]
            and event["sub"] == packed["sub"]
            and event["event_hash"] == packed["event_hash"]
            and row_matches_hash(event)
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not ok:
        return None
    event["stored_at"] = packed["stored_at"]
    return event
