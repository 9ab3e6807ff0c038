"""Alert actions in the evidence store: acknowledgements and suppressions of alerts.

`alert_actions` keeps every action (never updated: the latest by (time, request id) gives
an alert's status), sorted by alert id. The alert listing joins each alert's latest action
so that it can filter by status; the detector reads the suppressions in force.
"""

from typing import Any

import orjson

from evidence.core.alert_actions import (
    ACKNOWLEDGE,
    ACKNOWLEDGED,
    OPEN,
    SUPPRESS,
    SUPPRESSED,
    ActionEvent,
    AlertAction,
    alert_action_problems,
    latest,
    suppressions,
)
from evidence.store.clickhouse import ALERT_COLUMNS, EvidenceStore, Page
from evidence.store.schema import ALERT_ACTION_COLUMNS as COLUMNS
from evidence.store.schema import ALERT_ACTIONS_TABLE as TABLE

LATEST = "last_"  # prefix of an alert's latest action's columns


def record(store: EvidenceStore, action: AlertAction) -> None:
    row = {name: getattr(action, name) for name in COLUMNS}
    store.raw_insert(TABLE, COLUMNS, orjson.dumps(row), "JSONEachRow")


def _latest_sql(database: str) -> str:
    """Each alert's latest action (by time, then request id), its columns prefixed."""
    columns = ", ".join(
        f"argMax({name}, (at_us, request_id)) AS {LATEST}{name}" for name in COLUMNS[1:]
    )
    return (
        f"SELECT alert_id AS {LATEST}alert_id, {columns} "
        f"FROM {database}.{TABLE} FINAL GROUP BY alert_id"
    )


def actions(store: EvidenceStore, alert_id: str) -> list[AlertAction]:
    """Every action on one alert, oldest first."""
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {store.database}.{TABLE} FINAL "
        "WHERE alert_id = {a:String} ORDER BY at_us, request_id"
    )
    return [action_from_row(row) for row in store.select(sql, {"a": alert_id})]


def active_suppressions(store: EvidenceStore, now_us: int) -> dict[tuple[str, str], int]:
    """(kind, principal) -> until, for the detector: alerts whose latest action is a
    suppression still in force."""
    sql = (
        f"SELECT * FROM ({_latest_sql(store.database)}) "
        f"WHERE {LATEST}action = {{s:String}} AND {LATEST}until_us > {{now:Int64}}"
    )
    rows = store.select(sql, {"s": SUPPRESS, "now": now_us})
    return suppressions((action_from_row(row, LATEST) for row in rows), now_us)


def alerts_page(
    store: EvidenceStore,
    window: tuple[int, int],
    match: tuple[str, ...],
    now_us: int,
    limit: int,
    after: Page = None,
) -> list[dict[str, Any]]:
    """Alerts seen within `window` (since, until) matching (kind, principal, status and
    optionally severity; '' matches all), latest first, each with its latest action's
    columns (prefixed `last_`; empty when there is none: see `latest_of`)."""
    kind, principal, status, severity = (*match, "")[:4]
    params: dict[str, Any] = {"s": window[0], "u": window[1], "n": limit, "k": kind,
                              "p": principal, "st": status, "sev": severity, "now": now_us,
                              "ack": ACKNOWLEDGE, "sup": SUPPRESS}  # fmt: skip
    page_clause = ""
    if after is not None:
        page_clause = "AND (a.last_seen_us, a.alert_id) < ({at:Int64}, {ae:String}) "
        params.update(at=after[0], ae=after[1])
    alert_columns = ", ".join(f"a.{name} AS {name}" for name in ALERT_COLUMNS)
    latest_columns = ", ".join(f"l.{LATEST}{name} AS {LATEST}{name}" for name in COLUMNS)
    sql = (
        f"SELECT {alert_columns}, {latest_columns} FROM {store.database}.alerts AS a FINAL "
        f"LEFT JOIN ({_latest_sql(store.database)}) AS l ON a.alert_id = l.{LATEST}alert_id "
        "WHERE a.last_seen_us >= {s:Int64} AND a.first_seen_us < {u:Int64} "
        "AND ({k:String} = '' OR a.kind = {k:String}) "
        "AND ({p:String} = '' OR a.principal = {p:String}) "
        "AND ({sev:String} = '' OR a.severity = {sev:String}) "
        f"AND ({{st:String}} = '' OR {_STATUS_SQL} = {{st:String}}) "
        f"{page_clause}ORDER BY a.last_seen_us DESC, a.alert_id DESC LIMIT {{n:UInt32}}"
    )
    return store.select(sql, params)


_STATUS_SQL = (
    f"multiIf(l.{LATEST}action = {{ack:String}}, '{ACKNOWLEDGED}', l.{LATEST}action = "
    f"{{sup:String}} AND l.{LATEST}until_us > {{now:Int64}}, '{SUPPRESSED}', '{OPEN}')"
)


def latest_of(row: dict[str, Any]) -> AlertAction | None:
    """The latest action joined to an `alerts_page` row (None: no action)."""
    return action_from_row(row, LATEST) if row.get(f"{LATEST}action") else None


def latest_action(store: EvidenceStore, alert_id: str) -> AlertAction | None:
    return latest(actions(store, alert_id))


def action_from_row(row: dict[str, Any], prefix: str = "") -> AlertAction:
    values = {name: row[f"{prefix}{name}"] for name in COLUMNS}
    return AlertAction(
        alert_id=str(values["alert_id"]),
        action=str(values["action"]),
        kind=str(values["kind"]),
        principal=str(values["principal"]),
        actor=str(values["actor"]),
        reason=str(values["reason"]),
        at_us=int(values["at_us"]),
        until_us=int(values["until_us"]),
        request_id=str(values["request_id"]),
    )


def action_check_problems(store: EvidenceStore, since_us: int, until_us: int) -> list[Any]:
    """The alert-action records of a window against their chained events."""
    db = store.database
    events_sql = (
        "SELECT producer_id, sequence, event_id, request_id, policy_version "
        f"FROM {db}.access_events FINAL WHERE action IN ('alert.acknowledge', 'alert.suppress') "
        "AND (ts_us BETWEEN {s:Int64} AND {u:Int64} OR request_id IN "
        f"(SELECT request_id FROM {db}.{TABLE} FINAL "
        "WHERE at_us BETWEEN {s:Int64} AND {u:Int64}))"
    )
    params = {"s": since_us, "u": until_us}
    events = [ActionEvent(str(r["producer_id"]), int(r["sequence"]), str(r["event_id"]),
                          str(r["request_id"]), str(r["policy_version"]))
              for r in store.select(events_sql, params)]  # fmt: skip
    records_sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {db}.{TABLE} FINAL "
        "WHERE at_us BETWEEN {s:Int64} AND {u:Int64} OR request_id IN {r:Array(String)}"
    )
    ids = [event.request_id for event in events]
    records = [action_from_row(row) for row in store.select(records_sql, {**params, "r": ids})]
    return alert_action_problems(events, records)


def alert_kind_counts(store: EvidenceStore, since_us: int, until_us: int) -> dict[str, int]:
    """Alerts whose episodes touch [since, until], by kind (what a replay reports)."""
    rows = store.select(
        f"SELECT kind, count() AS n FROM {store.database}.alerts FINAL "
        "WHERE last_seen_us >= {s:Int64} AND first_seen_us <= {u:Int64} GROUP BY kind",
        {"s": since_us, "u": until_us},
    )
    return {str(row["kind"]): int(row["n"]) for row in rows}
