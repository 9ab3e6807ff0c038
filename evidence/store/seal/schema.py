"""Schema of the tamper-evidence tables: signed checkpoints, Merkle nodes, erasure records.

- `checkpoints`: one row per signed checkpoint (producer, tree size, root, time, previous
  checkpoint hash, key id, signature, signed body) plus the tree's frontier (unsigned; it
  must fold to the signed root), sorted by (producer, tree size, time).
- `merkle_nodes`: every perfect subtree hash of every producer's tree (level 0 = leaf
  hashes), sorted by (producer, level, index): inclusion and consistency proofs in O(log n)
  lookups. Nodes of levels >= 16 never expire: proofs of recent events need the hashes of
  old subtrees. Lower levels expire with the evidence.
- `erasures`: the (producer, sequence, event_hash, event_id) of each erased event, under
  an erasure id that an erasure event in the chain commits to.
`access_events` gets a min/max skip index on `sequence` so reads of "a producer's events
after sequence n" skip the granules of old parts.
"""

KEEP_NODE_LEVELS_FROM = 16


def seal_statements(database: str, ttl_interval: str) -> list[str]:
    ttl = f"TTL toDateTime(ts) + {ttl_interval}"
    return [
        f"ALTER TABLE {database}.access_events ADD INDEX IF NOT EXISTS idx_sequence "
        "sequence TYPE minmax GRANULARITY 1",
        f"""CREATE TABLE IF NOT EXISTS {database}.checkpoints (
    producer_id String,
    tree_size UInt64,
    root String,
    ts_us Int64,
    head String,
    previous String,
    body String,
    body_hash String,
    key_id String,
    signature String,
    frontier Array(String),
    ts DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(ts_us, 'UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (producer_id, tree_size, ts_us)
{ttl}""",
        f"""CREATE TABLE IF NOT EXISTS {database}.merkle_nodes (
    producer_id LowCardinality(String),
    level UInt8,
    idx UInt64,
    hash FixedString(32),
    ts DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (producer_id, level, idx)
{ttl} WHERE level < {KEEP_NODE_LEVELS_FROM}""",
        f"""CREATE TABLE IF NOT EXISTS {database}.erasures (
    erasure_id String,
    producer_id String,
    sequence UInt64,
    event_hash String,
    event_id String,
    erased_at_us Int64,
    reason String,
    ts DateTime64(6, 'UTC') DEFAULT fromUnixTimestamp64Micro(erased_at_us, 'UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (producer_id, sequence, erasure_id)
{ttl}""",
    ]


def retention_statements(database: str, ttl_interval: str) -> list[str]:
    """Make a changed retention apply to existing tables too (metadata only: rows expire
    at the next merges, no rewrite now)."""
    ttl = f"toDateTime(ts) + {ttl_interval}"
    tables = ("access_events", "access_by_patient", "alerts", "checkpoints", "erasures")
    statements = [f"ALTER TABLE {database}.{table} MODIFY TTL {ttl}" for table in tables]
    statements.append(
        f"ALTER TABLE {database}.merkle_nodes MODIFY TTL {ttl} "
        f"WHERE level < {KEEP_NODE_LEVELS_FROM}"
    )
    return statements


def ttl_interval(retention_years: int, retention_days: int | None) -> str:
    if retention_days is not None:
        if retention_days < 1:
            raise ValueError("the retention is at least one day")
        return f"INTERVAL {int(retention_days)} DAY"
    return f"INTERVAL {int(retention_years)} YEAR"
