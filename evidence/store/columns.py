"""Column lists of the evidence tables, shared by the store adapter, the schema and readers."""

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
