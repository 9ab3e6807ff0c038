"""Reconstruction queries over the access events: one filter model for every auditor view
(by patient, by principal, by resource, by time), read newest first on (ts_us, event_id).

`where_sql` is pure (filter → SQL text and parameters); the functions below it run the SQL
through the store's one client. A patient filter reads the by-patient index (it carries the
events), a principal filter is a range of the main sort key; the other filters narrow those
rows.
"""

from typing import Any

from evidence.core.queries import FOREVER_US, AccessFilter, Position, outcome_code
from evidence.store.clickhouse import ALERT_COLUMNS, EvidenceStore
from evidence.store.columns import READ_COLUMNS
from evidence.store.patient_index import PACKED_SELECT, READ_SETTINGS

__all__ = [  # the filter model lives in evidence.core.queries; named here for callers
    "FOREVER_US",
    "AccessFilter",
    "Position",
    "access_event",
    "alerts_for_request",
    "count_accesses",
    "find_accesses",
    "outcome_code",
    "store_now_ms",
    "where_sql",
]

# The FHIR AuditEvent outcome of a row (`evidence.core.queries.outcome_code`, same rule):
# 0 success, 4 minor failure (refused or invalid: 4xx), 8 serious failure (5xx).
OUTCOME_SQL = "multiIf(decision != 'deny' AND status < 400, 0, status >= 500, 8, 4)"


def _filters(f: AccessFilter) -> tuple[list[str], dict[str, Any]]:
    """The conditions beyond the axis (patient or principal) and the time window."""
    parts: list[str] = []
    params: dict[str, Any] = {}

    def add(sql: str, **values: Any) -> None:
        parts.append(sql)
        params.update(values)

    if f.decisions:
        add("decision IN {fd:Array(String)}", fd=list(f.decisions))
    if f.actions or f.action_prefix:
        add("(action IN {fa:Array(String)} OR ({fp:String} != '' AND startsWith(action, "
            "{fp:String})))", fa=list(f.actions), fp=f.action_prefix)  # fmt: skip
    if f.resource_type:
        add("has(splitByChar(',', resource_type), {frt:String})", frt=f.resource_type)
    if f.exclude_resource_type:
        add("resource_type != {fxrt:String}", fxrt=f.exclude_resource_type)
    if f.client_id:
        add("client_id = {fc:String}", fc=f.client_id)
    if f.entity:
        rtype, _, digest = f.entity.partition("/")
        sql = "has(resource_hashes, {fe:String})"
        if rtype == "Patient":
            sql = f"({sql} OR has(patient_hashes, {{feh:String}}))"
        add(sql, fe=f.entity, feh=digest)
    if f.outcomes:
        add(f"{OUTCOME_SQL} IN {{fo:Array(UInt8)}}", fo=list(f.outcomes))
    if f.min_returned:
        add("count_returned >= {fmin:UInt32}", fmin=f.min_returned)
    if f.status_below:
        add("status < {fsb:UInt16}", fsb=f.status_below)
    if f.stored_until_ms:
        add("stored_at <= fromUnixTimestamp64Milli({fsu:Int64}, 'UTC')", fsu=f.stored_until_ms)
    return parts, params


def _page(after: Position | None, inclusive: bool) -> tuple[str, dict[str, Any]]:
    if after is None:
        return "", {}
    op = "<=" if inclusive else "<"
    return f"(ts_us, event_id) {op} ({{at:Int64}}, {{ae:String}})", {"at": after[0], "ae": after[1]}


def where_sql(
    db: str, f: AccessFilter, after: Position | None = None, inclusive: bool = False
) -> tuple[str, dict[str, Any]]:
    """FROM … WHERE … for the filter (pure): over the by-patient index, which carries the
    events and every filtered column, when a patient is given (select `PACKED_SELECT` and
    read the rows with `EvidenceStore.read_packed`); else over access_events."""
    conditions, params = _filters(f)
    page, page_params = _page(after, inclusive)
    params.update(page_params, s=f.since_us, u=f.until_us)
    conditions += ["ts_us >= {s:Int64}", "ts_us < {u:Int64}", *([page] if page else [])]
    if f.sub:
        conditions.insert(0, "sub = {sub:String}")
        params["sub"] = f.sub
    table = "access_events"
    if f.patient_hash:
        conditions.insert(0, "patient_hash = {p:String}")
        params["p"] = f.patient_hash
        table = "access_by_patient"
    sql = f"FROM {db}.{table} FINAL WHERE {' AND '.join(conditions)}"
    return sql, params


def find_accesses(
    store: EvidenceStore,
    f: AccessFilter,
    limit: int,
    after: Position | None = None,
    inclusive: bool = False,
) -> list[dict[str, Any]]:
    """One page of matching events, newest first; `inclusive` repeats the `after` row."""
    body, params = where_sql(store.database, f, after, inclusive)
    params["n"] = limit
    order = f"ORDER BY ts_us DESC, event_id DESC LIMIT {{n:UInt32}} {READ_SETTINGS}"
    if f.patient_hash:
        return store.read_packed(f"SELECT {PACKED_SELECT} {body} {order}", params)
    return store.select(f"SELECT {', '.join(READ_COLUMNS)} {body} {order}", params)


def count_accesses(store: EvidenceStore, f: AccessFilter) -> int:
    body, params = where_sql(store.database, f)
    rows = store.select(f"SELECT count() AS n {body} {READ_SETTINGS}", params)
    return int(rows[0]["n"])


def access_event(store: EvidenceStore, event_id: str) -> dict[str, Any] | None:
    sql = (
        f"SELECT {', '.join(READ_COLUMNS)} FROM {store.database}.access_events FINAL "
        "WHERE event_id = {e:String} LIMIT 1"
    )
    rows = store.select(sql, {"e": event_id})
    return rows[0] if rows else None


def alerts_for_request(
    store: EvidenceStore, request_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The alerts whose evidence includes this request (alerts keep their last 100 ids)."""
    sql = (
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM {store.database}.alerts FINAL "
        "WHERE has(request_ids, {r:String}) ORDER BY first_seen_us, alert_id LIMIT {n:UInt32}"
    )
    return store.select(sql, {"r": request_id, "n": limit})


def store_now_ms(store: EvidenceStore) -> int:
    """The store's own clock (stored_at is stamped by it): the cut of an export snapshot."""
    rows = store.select("SELECT toUnixTimestamp64Milli(now64(3)) AS now_ms", {})
    return int(rows[0]["now_ms"])
