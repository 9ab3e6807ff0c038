"""Column lists of the evidence tables, shared by the store adapter, the schema and readers."""

from typing import Any

from evidence.core.record import PAYLOAD_FIELDS

ROW_COLUMNS: tuple[str, ...] = (
    *PAYLOAD_FIELDS,
    "producer_id",
    "sequence",
    "prev_hash",
    "event_hash",
    "hour_of_week",
)
READ_COLUMNS: tuple[str, ...] = (*ROW_COLUMNS, "stored_at")
# Integer columns of a row (JSON may quote 64-bit integers, depending on the engine's settings).
INT_COLUMNS = frozenset({
    "schema_version", "ts_us", "status", "count_returned", "count_withheld", "count_redacted",
    "key_version", "sequence", "hour_of_week",
})  # fmt: skip

# Columns added after rows were first stored: (the first schema version that has it, its
# value in the rows of older versions, which neither hold nor hash it).
ADDED_COLUMNS: dict[str, tuple[int, Any]] = {
    "count_redacted": (2, 0),
    "client_address_hash": (3, ""),
    "token_type": (4, ""),
    "idp_product": (4, ""),
    "idp_version": (4, ""),
    "probed_patient_hashes": (5, []),
}


def with_added_columns(row: dict[str, Any]) -> dict[str, Any]:
    """An older version's row with the columns added since (their defaults): the store's
    shape for every version. Rows that have them, or are of a version that should, stay."""
    try:
        version = int(row.get("schema_version", 0))
    except (TypeError, ValueError):
        return row
    missing = {name: default for name, (since, default) in ADDED_COLUMNS.items()
               if version < since and name not in row}  # fmt: skip
    return {**row, **missing} if missing else row


EVENT_COLUMNS_DDL = """
    event_id String,
    schema_version UInt16,
    request_id String,
    trace_id String,
    ts_us Int64,
    ts DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(ts_us, 'UTC'),
    method LowCardinality(String),
    route LowCardinality(String),
    action LowCardinality(String),
    resource_type LowCardinality(String),
    decision LowCardinality(String),
    status UInt16,
    reasons Array(LowCardinality(String)),
    sub String,
    client_id String,
    issuer LowCardinality(String),
    token_alg LowCardinality(String),
    token_kid String,
    token_jti_hash String,
    token_model LowCardinality(String),
    fhir_user String,
    context_patient_hash String,
    purpose_of_use LowCardinality(String),
    scopes_granted Array(String),
    scopes_used Array(String),
    patient_hashes Array(String),
    resource_hashes Array(String),
    query_params Array(String),
    count_returned UInt32,
    count_withheld UInt32,
    count_redacted UInt32 DEFAULT 0,
    client_address_hash String DEFAULT '',
    token_type LowCardinality(String) DEFAULT '',
    idp_product LowCardinality(String) DEFAULT '',
    idp_version LowCardinality(String) DEFAULT '',
    probed_patient_hashes Array(String) DEFAULT [],
    policy_version LowCardinality(String),
    key_version UInt16,
    producer_id String,
    sequence UInt64,
    prev_hash String,
    event_hash String,
    hour_of_week UInt8,
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)"""
# name -> ClickHouse type of every column of `access_events` (defaults left out).
COLUMN_TYPES: dict[str, str] = {
    name: kind.split(" DEFAULT ")[0]
    for name, kind in (
        line.strip().split(" ", 1) for line in EVENT_COLUMNS_DDL.strip().split(",\n")
    )
}
