"""ClickHouse schema of the evidence store (the same DDL on chDB and on a server).

`access_events` is sorted for "by principal" (sub, time), in small granules and compressed
blocks so a principal's day reads little; `access_by_patient` (see `patient_index`) holds
one row per (patient pseudonym, event) carrying the event, sorted for "by patient"; both are
filled by the ingest views (see `ingest`); a bloom-filter skip index answers "by request id".
ReplacingMergeTree keyed on the event makes re-inserts after a crash invisible to queries
that read with FINAL. `alerts` keeps the latest version of each alert (an alert is updated,
not repeated), `alert_actions` what auditors did about them (see `alert_actions`);
`detection_state` keeps the detectors' long-lived state (per-principal baselines) so it
survives restarts.
"""

from evidence.store.columns import EVENT_COLUMNS_DDL
from evidence.store.ingest import ingest_statements
from evidence.store.patient_index import index_statements
from evidence.store.seal.schema import seal_statements, ttl_interval

RETENTION_YEARS_DEFAULT = 6


def schema_statements(
    database: str, retention_years: int, retention_days: int | None = None
) -> list[str]:
    interval = ttl_interval(retention_years, retention_days)
    ttl = f"TTL toDateTime(ts) + {interval}"
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"""CREATE TABLE IF NOT EXISTS {database}.access_events ({EVENT_COLUMNS_DDL},
    INDEX idx_request_id request_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 1
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (sub, ts_us, event_id)
{ttl}
SETTINGS index_granularity = 1024, min_compress_block_size = 16384,
    max_compress_block_size = 65536, non_replicated_deduplication_window = 1000""",
        # Migrations for tables created by earlier versions (idempotent).
        f"ALTER TABLE {database}.access_events ADD COLUMN IF NOT EXISTS "
        "count_redacted UInt32 DEFAULT 0 AFTER count_withheld",
        f"ALTER TABLE {database}.access_events ADD COLUMN IF NOT EXISTS "
        "client_address_hash String DEFAULT '' AFTER count_redacted",
        *(
            f"ALTER TABLE {database}.access_events ADD COLUMN IF NOT EXISTS "
            f"{name} LowCardinality(String) DEFAULT '' AFTER {after}"
            for name, after in (
                ("token_type", "client_address_hash"),
                ("idp_product", "token_type"),
                ("idp_version", "idp_product"),
            )
        ),
        f"ALTER TABLE {database}.access_events ADD COLUMN IF NOT EXISTS "
        "probed_patient_hashes Array(String) DEFAULT [] AFTER idp_version",
        *index_statements(database, ttl),
        *ingest_statements(database),
        f"""CREATE TABLE IF NOT EXISTS {database}.alerts (
    alert_id String,
    kind LowCardinality(String),
    severity LowCardinality(String),
    principal String,
    first_seen_us Int64,
    last_seen_us Int64,
    window_start_us Int64,
    window_s UInt32,
    counts String,
    rule_version LowCardinality(String),
    request_ids Array(String),
    summary String,
    explanation String DEFAULT '',
    ts DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(first_seen_us, 'UTC')
) ENGINE = ReplacingMergeTree(last_seen_us)
PARTITION BY toYYYYMM(ts)
ORDER BY alert_id
{ttl}""",
        f"ALTER TABLE {database}.alerts ADD COLUMN IF NOT EXISTS "
        "explanation String DEFAULT '' AFTER summary",
        f"""CREATE TABLE IF NOT EXISTS {database}.detection_state (
    key String,
    state String,
    updated_us Int64
) ENGINE = ReplacingMergeTree(updated_us)
ORDER BY key""",
        *seal_statements(database, interval),
        *alert_action_statements(database, interval),
    ]


# Schema of `alert_actions`: every acknowledgement and suppression of an alert, never
# updated (an alert's status is its latest action), sorted by alert id; the reason is the
# auditor's plain text, the rest names the alert, the actor, the times and the request.
ALERT_ACTIONS_TABLE = "alert_actions"
ALERT_ACTION_COLUMNS: tuple[str, ...] = (
    "alert_id", "action", "kind", "principal", "actor", "reason", "at_us", "until_us",
    "request_id",
)  # fmt: skip


def alert_action_statements(database: str, ttl_interval: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {database}.{ALERT_ACTIONS_TABLE} (
    alert_id String,
    action LowCardinality(String),
    kind LowCardinality(String),
    principal String,
    actor String,
    reason String,
    at_us Int64,
    until_us Int64,
    request_id String,
    ts DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(at_us, 'UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (alert_id, at_us, request_id)
TTL toDateTime(ts) + {ttl_interval}"""
    ]
