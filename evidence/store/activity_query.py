"""One principal's activity over time: hourly aggregates of its access events (counts only,
never an identifier of a patient) and its latest break-glass uses.

`access_events` is sorted by (sub, ts_us, event_id), so both queries are range reads of one
principal; FINAL hides re-inserted duplicates as in every reconstruction query.
"""

from typing import Any

from evidence.store.clickhouse import EvidenceStore

HOUR_US = 3_600_000_000
BREAK_GLASS_REASON = "break_glass"
BREAK_GLASS_LIMIT = 100


def hourly_activity(
    store: EvidenceStore, sub: str, since_us: int, until_us: int
) -> list[dict[str, Any]]:
    """One row per clock hour (UTC) with at least one event of `sub` in [since, until):
    hour_us (the hour's start), distinct_patients, requests, denials, break_glass."""
    sql = (
        "SELECT intDiv(ts_us, {h:Int64}) * {h:Int64} AS hour_us, "
        "uniqExactArray(patient_hashes) AS distinct_patients, count() AS requests, "
        "countIf(decision = 'deny') AS denials, "
        "countIf(has(reasons, {bg:String})) AS break_glass "
        f"FROM {store.database}.access_events FINAL "
        "WHERE sub = {sub:String} AND ts_us >= {s:Int64} AND ts_us < {u:Int64} "
        "GROUP BY hour_us ORDER BY hour_us"
    )
    params = {"h": HOUR_US, "bg": BREAK_GLASS_REASON, "sub": sub, "s": since_us, "u": until_us}
    return store.select(sql, params)


def break_glass_uses(
    store: EvidenceStore, sub: str, since_us: int, until_us: int, limit: int = BREAK_GLASS_LIMIT
) -> list[dict[str, Any]]:
    """The principal's latest accesses granted by break-glass, newest first: when, which
    request, what was done (no patient identifiers)."""
    sql = (
        "SELECT ts_us, request_id, action, resource_type, decision, status "
        f"FROM {store.database}.access_events FINAL "
        "WHERE sub = {sub:String} AND ts_us >= {s:Int64} AND ts_us < {u:Int64} "
        "AND has(reasons, {bg:String}) "
        "ORDER BY ts_us DESC, event_id DESC LIMIT {n:UInt32}"
    )
    params = {"bg": BREAK_GLASS_REASON, "sub": sub, "s": since_us, "u": until_us, "n": limit}
    return store.select(sql, params)
