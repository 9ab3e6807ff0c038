"""The ingest path of the evidence store: how an inserted batch becomes events and index entries.

A batch arrives as one JSON array of rows into `access_ingest`, a Null table read with the
JSONAsString format: the engine only splits the array, keeping each row's exact text. A chain
of materialized views then does the rest inside the engine:

    access_ingest (row)  --parse-->  access_parsed (columns, stored_at, row)
        access_parsed  --events-->  access_events        (the columns)
        access_parsed  --index--->  access_by_patient    (one entry per patient, with row)

So the by-patient copy of an event is the text the sink sent, not a second rendering of it
(`formatRowNoNewline` over 40 columns cost more than storing the event), and the two
writes below `access_parsed` run side by side (`parallel_view_processing`). Both tables get
the same `stored_at`, computed once per batch in the parse step.

JSONAsString does not check the fields the way JSONEachRow does (a missing field, or a string
in a number column, would be stored as the type's default), so `checked_rows` refuses a batch
holding a row whose fields are not exactly the evidence columns, of their JSON kinds, before
it is sent. (A wrong element inside a list would still break the row's chain hash, which
`verify` names; the row's text is kept in the index.)
"""

from collections.abc import Sequence
from typing import Any

from evidence.core.errors import EvidenceError
from evidence.store.columns import COLUMN_TYPES, INT_COLUMNS, ROW_COLUMNS
from evidence.store.patient_index import FILTER_COLUMNS

INGEST_TABLE = "access_ingest"
INGEST_FORMAT = "JSONAsString"
# Settings of every ingest insert (with the batch's deduplication token).
INGEST_SETTINGS: dict[str, int] = {
    # a redelivered batch (same token) is dropped in every table below the Null tables
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # a batch holds distinct events; re-deliveries are collapsed by FINAL and merges
    "optimize_on_insert": 0,
}
# From this many rows the events and the index are written concurrently (1.3x faster at
# 5,000 rows and 1.6x at 100,000; below, starting the threads costs more than it saves).
PARALLEL_VIEWS_FROM = 2_000


def ingest_settings(rows: int, dedup_token: str) -> dict[str, int | str]:
    """The settings of one ingest insert of this many rows."""
    parallel = {"parallel_view_processing": 1} if rows >= PARALLEL_VIEWS_FROM else {}
    return {"insert_deduplication_token": dedup_token, **INGEST_SETTINGS, **parallel}


def ingest_statements(database: str) -> list[str]:
    """DDL of the ingest tables and views (idempotent). Run after the tables they fill exist;
    the parse view comes last so nothing flows before its consumers are attached."""
    fields = ", ".join(f"{name} {COLUMN_TYPES[name]}" for name in ROW_COLUMNS)
    columns = ", ".join(ROW_COLUMNS)
    # By position: `t.name` costs ~15 ms more per insert (a 1-row batch: 17 ms instead of 4).
    picked = ", ".join(f"tupleElement(t, {i}) AS {name}" for i, name in enumerate(ROW_COLUMNS, 1))
    return [
        # Earlier versions filled the index from access_events; now it is filled from here.
        f"DROP VIEW IF EXISTS {database}.access_by_patient_mv",
        f"CREATE TABLE IF NOT EXISTS {database}.{INGEST_TABLE} (row String) ENGINE = Null",
        f"""CREATE TABLE IF NOT EXISTS {database}.access_parsed ({fields},
    stored_at DateTime64(3, 'UTC'), row String) ENGINE = Null""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_events_mv
TO {database}.access_events AS SELECT {columns}, stored_at FROM {database}.access_parsed""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_by_patient_ingest_mv
TO {database}.access_by_patient AS SELECT arrayJoin(patient_hashes) AS patient_hash, ts_us,
    event_id, fromUnixTimestamp64Micro(ts_us, 'UTC') AS ts, {", ".join(FILTER_COLUMNS)},
    event_hash, stored_at, row FROM {database}.access_parsed""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_parse_mv
TO {database}.access_parsed AS SELECT {picked}, now64(3) AS stored_at, row
FROM (SELECT JSONExtract(row, 'Tuple({fields})') AS t, row FROM {database}.{INGEST_TABLE})""",
    ]


class InvalidEvidenceRow(EvidenceError):
    """A row handed to the store is not an evidence row (a bug upstream: rows are built by
    `to_evidence_record`); nothing of the batch is stored."""

    code = "event.invalid_row"


def _kind(name: str) -> type:
    if name in INT_COLUMNS:
        return int
    return list if COLUMN_TYPES[name].startswith("Array(") else str


_ROW_KEYS = frozenset(ROW_COLUMNS)
_KIND_OF = {name: _kind(name) for name in ROW_COLUMNS}
_KINDS_BY_ORDER: dict[tuple[str, ...], tuple[type, ...]] = {}
_SEQUENCE_KINDS = (list, tuple)


def checked_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows to send, each with exactly the evidence columns and values of their JSON
    kind (JSONExtract would turn a missing field or a string in a number column into a
    default silently); a version-1 row gets `count_redacted` 0, the column's default.
    Raises InvalidEvidenceRow naming the first bad row's position and field."""
    out = list(rows)
    for position, row in enumerate(out):
        # Fast path (C-level comparisons): the kinds expected for this order of the fields.
        kinds = _kinds_in_order(tuple(row))
        if kinds is None or tuple(map(type, row.values())) != kinds:
            out[position] = _checked_row(position, row)
    return out


def _kinds_in_order(order: tuple[str, ...]) -> tuple[type, ...] | None:
    """The JSON kinds of the columns in this order, if it is an order of exactly the columns
    (remembered: rows built by the same code share one order)."""
    kinds = _KINDS_BY_ORDER.get(order)
    if kinds is None and len(order) == len(_ROW_KEYS) and _ROW_KEYS.issuperset(order):
        kinds = tuple(_KIND_OF[name] for name in order)
        if len(_KINDS_BY_ORDER) < 64:
            _KINDS_BY_ORDER[order] = kinds
    return kinds


def _checked_row(position: int, row: dict[str, Any]) -> dict[str, Any]:
    if "count_redacted" not in row:
        row = {**row, "count_redacted": 0}
    if row.keys() != _ROW_KEYS:
        extra = sorted(row.keys() - _ROW_KEYS) or sorted(_ROW_KEYS - row.keys())
        raise InvalidEvidenceRow(f"row {position}: not the evidence columns ({extra[0]})")
    _check_fields(position, row)
    return row


def _check_fields(position: int, row: dict[str, Any]) -> None:
    """The slow path of `checked_rows`: tuples stand for lists; anything else is refused."""
    for name, kind in _KIND_OF.items():
        value = row[name]
        ok = isinstance(value, _SEQUENCE_KINDS) if kind is list else type(value) is kind
        if not ok:
            raise InvalidEvidenceRow(f"row {position}: {name} is not a JSON {kind.__name__}")
