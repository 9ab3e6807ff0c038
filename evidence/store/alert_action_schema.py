"""Schema of `alert_actions`: every acknowledgement and suppression of an alert, never
updated (an alert's status is its latest action), sorted by alert id; the reason is the
auditor's plain text, the rest names the alert, the actor, the times and the request."""

TABLE = "alert_actions"
COLUMNS: tuple[str, ...] = (
    "alert_id", "action", "kind", "principal", "actor", "reason", "at_us", "until_us",
    "request_id",
)  # fmt: skip


def alert_action_statements(database: str, ttl_interval: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {database}.{TABLE} (
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
