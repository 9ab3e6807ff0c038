"""The ingest path of the evidence store: how an inserted batch becomes events and index entries.

A batch arrives as one JSON array of rows into `access_ingest`, a Null table read with the
JSONAsString format: the engine only splits the array, keeping each row's exact text. A chain
of materialized views then does the rest inside the engine:

    access_ingest (row)  --parse-->  access_parsed (columns, stored_at, row)
        access_parsed  --events-->  access_events        (the columns)
        access_parsed  --index--->  access_by_patient    (one entry per patient, with row)

So the by-patient copy of an event is the text the sink sent, not a second rendering of it
(`formatRowNoNewline` over 40 columns cost more than storing the event), and for batches of
`PARALLEL_VIEWS_FROM` rows or more the two writes below `access_parsed` run side by side
(`parallel_view_processing`). Both tables get the same `stored_at`, computed once per batch
in the parse step.

`JSONExtract` stores a missing field, a string in a number column or an out-of-range number
as the type's default, silently, so `row_check.checked_rows` refuses a batch holding any such
row before it is sent. (A wrong element inside a list would still break the row's chain hash,
which `verify` names; the row's text is kept in the index.)
"""

import hashlib

from evidence.store.columns import COLUMN_TYPES, ROW_COLUMNS
from evidence.store.patient_index import FILTER_COLUMNS


def _version() -> str:
    """A digest of the chain's definition: a version whose columns or views differ gets
    tables and views of its own names (`CREATE ... IF NOT EXISTS` never alters an existing
    view), while processes of the previous version, still running during an upgrade, keep
    writing through theirs. A previous version's chain is dropped by hand once none runs."""
    text = "\n".join(_chain("db", "v"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


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
    """DDL of the ingest tables and views (idempotent). Run after the tables they fill exist."""
    # Earlier versions filled the index from access_events; now it is filled from here.
    return [f"DROP VIEW IF EXISTS {database}.access_by_patient_mv", *_chain(database, VERSION)]


def _chain(database: str, version: str) -> list[str]:
    """The Null tables and views of one version of the chain; the parse view comes last, so
    nothing flows before its consumers are attached."""
    ingest, parsed = f"{database}.access_ingest_{version}", f"{database}.access_parsed_{version}"
    fields = ", ".join(f"{name} {COLUMN_TYPES[name]}" for name in ROW_COLUMNS)
    columns = ", ".join(ROW_COLUMNS)
    # By position: `t.name` costs ~15 ms more per insert (a 1-row batch: 17 ms instead of 4).
    picked = ", ".join(f"tupleElement(t, {i}) AS {name}" for i, name in enumerate(ROW_COLUMNS, 1))
    return [
        f"CREATE TABLE IF NOT EXISTS {ingest} (row String) ENGINE = Null",
        f"""CREATE TABLE IF NOT EXISTS {parsed} ({fields},
    stored_at DateTime64(3, 'UTC'), row String) ENGINE = Null""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_events_mv_{version}
TO {database}.access_events AS SELECT {columns}, stored_at FROM {parsed}""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_by_patient_mv_{version}
TO {database}.access_by_patient AS SELECT arrayJoin(patient_hashes) AS patient_hash, ts_us,
    event_id, fromUnixTimestamp64Micro(ts_us, 'UTC') AS ts, {", ".join(FILTER_COLUMNS)},
    event_hash, stored_at, row FROM {parsed}""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.access_parse_mv_{version}
TO {parsed} AS SELECT {picked}, now64(3) AS stored_at, row
FROM (SELECT JSONExtract(row, 'Tuple({fields})') AS t, row FROM {ingest})""",
    ]


VERSION = _version()
INGEST_TABLE = f"access_ingest_{VERSION}"
PARSED_TABLE = f"access_parsed_{VERSION}"  # below the parse step (INSERT ... SELECT of rows)
