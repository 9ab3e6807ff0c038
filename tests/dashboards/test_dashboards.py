"""The Grafana dashboards (dashboards/grafana/dashboards/*.json), checked without Grafana.

Every ClickHouse panel's SQL is a file of dashboards/queries and every data source one the
provisioning defines; every query, its macros expanded as the ClickHouse plugin expands
them (`expand_macros`), runs on the real evidence schema (chDB; a server too where the
`evidence_store` fixture has one) over a small data set, with the shape Grafana needs and,
for most panels, the exact numbers; every Prometheus panel reads metrics the code exports.
"""

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client import REGISTRY

import api.http.metrics
import stream.metrics
from evidence.core import AccessEvent, Decision
from evidence.core.alert_actions import ACKNOWLEDGE, SUPPRESS, AlertAction
from evidence.store import EvidenceStore
from evidence.store import alert_actions as alert_action_store
from evidence.store.clickhouse import StoreUnavailable
from evidence.store.columns import ROW_COLUMNS
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed
from tests.evidence.builders import BASE_TS_US, make_event, sealed_rows

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards/grafana/dashboards"
QUERIES = ROOT / "dashboards/queries"
DATASOURCES = ROOT / "dashboards/grafana/provisioning/datasources"
CLICKHOUSE = "grafana-clickhouse-datasource"
TIME_SERIES, TABLE = 0, 1  # the plugin's `format` (sqlds FormatQueryOption)
QUERY_TYPES = {TIME_SERIES: "timeSeries", TABLE: "table"}

SECOND_US = 1_000_000
START_S = BASE_TS_US // SECOND_US  # 2025-01-01T00:00:00Z: the dashboard's time range
END_S = START_S + 3600
INTERVAL_S = 300  # Grafana's $__interval for the panel
Row = dict[str, Any]


# --- the dashboards --------------------------------------------------------------------------


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", ())  # panels of a collapsed row


def _targets(ds_type: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dashboard file, panel, target) of every target on a data source of this type."""
    return [
        (name, panel, target)
        for name, board in _dashboards().items()
        for panel in _panels(board)
        for target in panel.get("targets", ())
        if target["datasource"]["type"] == ds_type
    ]


def _queries() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(QUERIES.glob("*.sql"))}


def _query_file(raw_sql: str) -> str:
    """The file whose text is the panel's SQL (the file ends with a newline, rawSql not)."""
    files = [name for name, text in _queries().items() if text.rstrip("\n") == raw_sql]
    assert len(files) == 1, f"no dashboards/queries file holds this SQL:\n{raw_sql}"
    return files[0]


def _provisioned() -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    return {
        ds["uid"]: ds["type"]
        for path in sorted(DATASOURCES.glob("*.yaml"))
        for ds in yaml.safe_load(path.read_text())["datasources"]
    }


def test_dashboards_are_grafana_dashboards() -> None:
    boards = _dashboards()
    assert {"fhir-evidence-overview.json", "fhir-evidence-pipeline.json"} <= set(boards)
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["schemaVersion"] >= 39, name
        assert board["title"] and board["uid"] and "fhir-evidence" in board["tags"], name
        panels = list(_panels(board))
        assert len({p["id"] for p in panels}) == len(panels), name
        for panel in panels:
            where = f"{name}: {panel['title']}"
            assert panel["title"] and panel.get("description"), where
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0, where
            if panel["type"] in ("text", "row"):
                continue
            assert panel["targets"], where
            assert panel["datasource"] == panel["targets"][0]["datasource"], where


def test_every_data_source_is_a_provisioned_one() -> None:
    provisioned = _provisioned()
    clickhouse = yaml.safe_load((DATASOURCES / "clickhouse.yaml").read_text())["datasources"]
    assert provisioned["fhir-evidence-clickhouse"] == CLICKHOUSE
    assert clickhouse[0]["jsonData"]["defaultDatabase"] == "evidence"
    used = 0
    for board in _dashboards().values():
        for panel in _panels(board):
            targets = panel.get("targets", ())
            for ds in [panel.get("datasource"), *(t["datasource"] for t in targets)]:
                if ds is not None:
                    assert provisioned.get(ds["uid"]) == ds["type"], (panel["title"], ds)
                    used += 1
    assert used


def test_every_clickhouse_panel_runs_a_query_file_as_raw_sql() -> None:
    targets = _targets(CLICKHOUSE)
    assert targets
    used: Counter[str] = Counter()
    for board, panel, target in targets:
        where = f"{board}: {panel['title']}"
        assert target["editorType"] == "sql", where  # the plugin's raw SQL editor (v4)
        assert target["format"] in QUERY_TYPES, where
        assert target["queryType"] == QUERY_TYPES[target["format"]], where
        used[_query_file(target["rawSql"])] += 1
        if panel["type"] == "timeseries":
            assert target["format"] == TIME_SERIES, where
    assert set(used) == set(_queries()), "a query file that no panel uses"


SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def _exported_metric_names() -> set[str]:
    """The series names a scrape can hold (a histogram's _bucket, _count and _sum)."""
    assert api.http.metrics.REQUESTS and stream.metrics.RELAY_LAG  # registered on import
    names = {"up"}
    for family in REGISTRY.collect():
        names.update(family.name + s for s in SAMPLE_SUFFIXES.get(family.type, ("",)))
    return names


def test_every_prometheus_panel_reads_metrics_the_code_exports() -> None:
    targets = _targets("prometheus")
    assert targets
    exported = _exported_metric_names()
    scrape = yaml.safe_load((ROOT / "dashboards/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    for _board, panel, target in targets:
        metrics = set(re.findall(r"\b(fhir_evidence_\w+|up)\b", target["expr"]))
        assert metrics and metrics <= exported, (panel["title"], metrics - exported)
        for job in re.findall(r'job="([^"]+)"', target["expr"]):
            assert job in jobs, panel["title"]


def test_pipeline_health_shows_the_workers_consumer_lag_and_sink_rate() -> None:
    """The Prometheus panels of the pipeline health dashboard: consumer lag, sink rate, sink
    latency, stalled commits, dead letters, and both scrape jobs."""
    board = _dashboards()["fhir-evidence-pipeline.json"]
    exprs = [t["expr"] for p in _panels(board) for t in p.get("targets", ()) if "expr" in t]
    wanted = (
        "fhir_evidence_consumer_lag_messages",
        "fhir_evidence_sink_rows_total",
        "fhir_evidence_sink_batch_seconds_bucket",
        "fhir_evidence_consumer_commit_stalled_seconds",
        "fhir_evidence_dead_letters_total",
        'up{job="fhir-evidence-api"}',
        'up{job="fhir-evidence-worker"}',
    )
    for metric in wanted:
        assert any(metric in expr for expr in exprs), metric
    lag = next(p for p in _panels(board) if "fhir_evidence_consumer_lag" in str(p["targets"]))
    assert "by (topic, partition)" in lag["targets"][0]["expr"]
    assert "rate(fhir_evidence_sink_rows_total[" in " ".join(exprs)  # a counter, as a rate
    assert not [p for p in _panels(board) if p["type"] == "text"]  # no "no metric" note left


# --- macro expansion (as grafana/clickhouse-datasource pkg/macros does it) -------------------

_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")


def expand_macros(sql: str, start_s: int, end_s: int, interval_s: int) -> str:
    """The plugin's macros for a time range [start_s, end_s] (Unix seconds) and interval."""

    def datetime_s(seconds: int) -> str:
        return f"toDateTime({seconds})"

    def datetime_ms(seconds: int) -> str:
        return f"fromUnixTimestamp64Milli({seconds * 1000})"

    def one(match: re.Match[str]) -> str:
        name, arg = match.group(1), (match.group(2) or "").strip()
        no_arg = {
            "fromTime": datetime_s(start_s),
            "toTime": datetime_s(end_s),
            "fromTime_ms": datetime_ms(start_s),
            "toTime_ms": datetime_ms(end_s),
            "interval_s": str(max(interval_s, 1)),
        }
        if name in no_arg and match.group(2) is None:
            return no_arg[name]
        if not arg or "," in arg:
            raise ValueError(f"$__{name} needs one argument: {match.group(0)}")
        if name == "timeFilter":
            return f"{arg} >= {datetime_s(start_s)} AND {arg} <= {datetime_s(end_s)}"
        if name == "timeFilter_ms":
            return f"{arg} >= {datetime_ms(start_s)} AND {arg} <= {datetime_ms(end_s)}"
        if name == "timeInterval":
            return f"toStartOfInterval(toDateTime({arg}), INTERVAL {max(interval_s, 1)} second)"
        raise ValueError(f"macro not expanded here: {match.group(0)}")

    expanded = _MACRO.sub(one, sql)
    assert "$" not in expanded, expanded  # no Grafana variable left either
    return expanded


def test_expand_macros_like_the_plugin() -> None:
    sql = (
        "SELECT $__timeInterval(ts) AS t, count() * 60 / $__interval_s FROM x "
        "WHERE $__timeFilter(ts) AND a >= $__fromTime - INTERVAL 1 DAY AND b < $__toTime_ms"
    )
    assert expand_macros(sql, 100, 200, 30) == (
        "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 30 second) AS t, count() * 60 / 30 "
        "FROM x WHERE ts >= toDateTime(100) AND ts <= toDateTime(200) AND a >= toDateTime(100)"
        " - INTERVAL 1 DAY AND b < fromUnixTimestamp64Milli(200000)"
    )
    with pytest.raises(ValueError):
        expand_macros("SELECT $__timeFilter()", 0, 1, 1)
    with pytest.raises(ValueError):
        expand_macros("SELECT $__conditionalAll(x, $y)", 0, 1, 1)


# --- the data set ----------------------------------------------------------------------------
# In the range (61 events): dr-alice 30 allowed and 4 partial Observation searches over 10
# patients; dr-bob 10 allowed Patient reads of 5 patients and 2 break-glass reads of 2 more;
# svc-scraper 8 denials (5 scope.insufficient on Patient, 3 careteam.not_member on
# Observation); bulk-client an export kick-off, 3 status polls, 1 download of 3 patients;
# 2 token.missing denials without a principal. Before the range: 3 events of dr-alice.
# Producers: api-1 (before-range events, dr-alice, dr-bob: 49 events), api-2 (svc-scraper,
# bulk-client: 13) sealed by a checkpoint at START + 1800 s; then one token.missing denial
# each to api-2 and api-3 (no checkpoint). Lag (stored_at - ts): 100 ms, 2 s for 3 events.

EVENTS_IN_RANGE = 61
DECISIONS = {"allow": 47, "partial": 4, "deny": 10}
DENIAL_REASONS = {"scope.insufficient": 5, "careteam.not_member": 3, "token.missing": 2}
SLOW = {10, 30, 50}  # indexes of events in the range stored 2 s after their time stamp
CHECKPOINT_S = START_S + 1800


def _groups() -> dict[str, list[dict[str, Any]]]:
    """make_event overrides per producer, in chain order; `before`: before the range,
    `late`: stored after the checkpoint."""
    treat = ("scope.granted", "careteam.member")
    alice = [
        {"sub": "dr-alice", "patient_ids": (f"pat-{n % 10:04d}",)} for n in range(30)
    ] + [
        {"sub": "dr-alice", "decision": Decision.PARTIAL, "patient_ids": ("pat-0000",),
         "reasons": (*treat, "label.withheld"), "count_withheld": 1}
        for _ in range(4)
    ]  # fmt: skip
    bob = [
        {"sub": "dr-bob", "action": "read", "resource_type": "Patient", "route": "/fhir/Patient",
         "patient_ids": (f"pat-{100 + n % 5:04d}",)}
        for n in range(10)
    ] + [
        {"sub": "dr-bob", "action": "read", "resource_type": "Patient", "route": "/fhir/Patient",
         "reasons": ("scope.granted", "break_glass"), "purpose_of_use": "ETREAT",
         "patient_ids": (f"pat-{200 + n:04d}",)}
        for n in range(2)
    ]  # fmt: skip
    denied = {"decision": Decision.DENY, "status": 403, "count_returned": 0, "sub": "svc-scraper"}
    scraper = [
        {**denied, "resource_type": "Patient", "reasons": ("scope.insufficient",),
         "patient_ids": (f"pat-{300 + n:04d}",)}
        for n in range(5)
    ] + [
        {**denied, "reasons": ("careteam.not_member",), "patient_ids": ("pat-0310",)}
        for _ in range(3)
    ]  # fmt: skip
    export = {"sub": "bulk-client", "client_id": "bulk-app", "purpose_of_use": "",
              "patient_ids": (), "resource_ids": (), "count_returned": 0}  # fmt: skip
    bulk = [
        {**export, "action": "export", "status": 202, "resource_type": "",
         "route": "/fhir/$export"},
        *({**export, "action": "export.status", "resource_type": ""} for _ in range(3)),
        {**export, "action": "export.download", "count_returned": 3,
         "patient_ids": ("pat-0400", "pat-0401", "pat-0402")},
    ]  # fmt: skip
    anonymous = {"sub": "", "client_id": "", "decision": Decision.DENY, "status": 401,
                 "reasons": ("token.missing",), "patient_ids": (), "count_returned": 0,
                 "late": True}  # fmt: skip
    before = [{"sub": "dr-alice", "before": True} for _ in range(3)]
    return {
        "api-1": before + alice + bob,
        "api-2": [*scraper, *bulk, {**anonymous, "resource_type": "Patient"}],
        "api-3": [{**anonymous, "resource_type": ""}],
    }


def _rows() -> tuple[list[Row], list[Row]]:
    """Evidence rows with stored_at: (stored before the checkpoint, stored after it)."""
    early: list[Row] = []
    late: list[Row] = []
    n = index = 0  # event number (unique ids), index of the event in the range
    for producer, group in _groups().items():
        events: list[AccessEvent] = []
        lags: list[int] = []
        lates: list[bool] = []
        for overrides in group:
            values = dict(overrides)
            is_late, before = values.pop("late", False), values.pop("before", False)
            lag_ms = 100
            if before:
                ts_us = BASE_TS_US - 7200 * SECOND_US + n * SECOND_US
            elif is_late:
                ts_us = (CHECKPOINT_S + 200 + len(late) + sum(lates)) * SECOND_US
            else:
                ts_us = BASE_TS_US + (index * 10 + 5) * SECOND_US
                lag_ms = 2000 if index in SLOW else 100
                index += 1
            events.append(make_event(n, ts_us=ts_us, **values))
            lags.append(lag_ms)
            lates.append(is_late)
            n += 1
        for row, lag_ms, is_late in zip(sealed_rows(events, producer), lags, lates, strict=True):
            stored = datetime.fromtimestamp((row["ts_us"] // 1000 + lag_ms) / 1000, UTC)
            row["stored_at"] = stored.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            (late if is_late else early).append(row)
    return early, late


def _insert(store: EvidenceStore, rows: list[Row]) -> None:
    block = b"\n".join(orjson.dumps(row) for row in rows)
    store.raw_insert("access_events", (*ROW_COLUMNS, "stored_at"), block, "JSONEachRow")


def _alert(alert_id: str, kind: str, principal: str, first_s: int, severity: str) -> Row:
    first = first_s * SECOND_US
    return {
        "alert_id": alert_id, "kind": kind, "severity": severity, "principal": principal,
        "first_seen_us": first, "last_seen_us": first + 60 * SECOND_US, "window_start_us": first,
        "window_s": 300, "counts": "{}", "rule_version": "1", "request_ids": ["req-1"],
        "summary": f"{principal}: {kind}",
    }  # fmt: skip


def _action(alert_id: str, action: str, kind: str, principal: str, until_us: int) -> AlertAction:
    return AlertAction(alert_id, action, kind, principal, "auditor-1", "checked",
                       (START_S + 900) * SECOND_US, until_us, f"req-{alert_id}")  # fmt: skip


def _load(store: EvidenceStore) -> None:
    early, late = _rows()
    _insert(store, early)
    Checkpointer(store, signer_from_seed(bytes(range(32)))).run_once(CHECKPOINT_S * SECOND_US)
    _insert(store, late)
    store.upsert_alerts([
        _alert("a-bg", "break_glass", "dr-bob", START_S + 200, "medium"),
        _alert("a-exp", "export", "bulk-client", START_S + 500, "medium"),
        _alert("a-db1", "denied_burst", "svc-scraper", START_S + 400, "medium"),
        _alert("a-db2", "denied_burst", "svc-scraper", START_S + 450, "medium"),
        _alert("a-old", "bulk_access_spike", "dr-alice", START_S - 10_800, "high"),
    ])  # fmt: skip
    far_future = 2**62
    for action in (
        _action("a-bg", ACKNOWLEDGE, "break_glass", "dr-bob", 0),
        _action("a-db1", SUPPRESS, "denied_burst", "svc-scraper", far_future),
        _action("a-db2", SUPPRESS, "denied_burst", "svc-scraper", (START_S + 1000) * SECOND_US),
    ):
        alert_action_store.record(store, action)


def run_query(store: EvidenceStore, sql: str) -> tuple[list[tuple[str, str]], list[Row]]:
    """(column names and types, rows) of a dashboard query on this store's database."""
    expanded = expand_macros(sql, START_S, END_S, INTERVAL_S)
    local = re.sub(r"\bevidence\.", f"{store.database}.", expanded)
    settings = {"output_format_json_quote_64bit_integers": 0}
    data = store.raw_query(local, {}, "JSONCompactEachRowWithNamesAndTypes", settings)
    lines = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    names, types, values = lines[0], lines[1], lines[2:]
    return list(zip(names, types, strict=True)), [dict(zip(names, v, strict=True)) for v in values]


@pytest.fixture
def results(evidence_store: EvidenceStore) -> dict[str, tuple[list[tuple[str, str]], list[Row]]]:
    _load(evidence_store)
    results = {}
    for name, sql in _queries().items():
        try:
            results[name] = run_query(evidence_store, sql)
        except StoreUnavailable as exc:
            pytest.fail(f"{name} fails on the evidence schema: {exc.__cause__}", pytrace=False)
    return results


# --- every query on the real schema ----------------------------------------------------------


def test_every_panel_query_runs_with_the_shape_its_panel_needs(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    for _board, panel, target in _targets(CLICKHOUSE):
        name = _query_file(target["rawSql"])
        columns, rows = results[name]
        assert rows, f"{name} returned nothing over the data set"
        if target["format"] == TIME_SERIES:  # long format: time first, ascending, then labels
            (first, first_type), *rest = columns
            assert first == "time" and first_type.startswith("DateTime"), name
            times = [row["time"] for row in rows]
            assert times == sorted(times), name
            start, end = _utc(START_S - INTERVAL_S), _utc(END_S)
            assert all(start <= t <= end for t in times), name
            assert any(not t.startswith(("String", "LowCardinality")) for _, t in rest), name
        if panel["type"] == "barchart":  # a string axis, numbers to draw
            assert "String" in columns[0][1], name
            assert panel["options"]["xField"] == columns[0][0], name
        for row in rows:  # pseudonymous: no raw patient or resource id in any cell
            assert not any("pat-" in str(v) or "obs-" in str(v) for v in row.values()), name


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_access_volume_by_decision_and_resource_type(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    [totals] = results["overview_access_totals.sql"][1]
    assert totals == {
        "events": EVENTS_IN_RANGE, "allowed": 47, "partial": 4, "denied": 10,
        "principals": 5, "patients": 20,
    }  # fmt: skip
    by_decision: Counter[str] = Counter()
    for row in results["overview_access_by_decision.sql"][1]:
        by_decision[row["decision"]] += row["events"]
    assert by_decision == DECISIONS
    by_type = {r["type"]: r for r in results["overview_access_by_resource_type.sql"][1]}
    assert list(by_type) == ["Observation", "Patient", "(none)"]
    assert by_type["Observation"] == {
        "type": "Observation", "allow": 31, "partial": 4, "deny": 3, "total": 38
    }  # fmt: skip
    assert (by_type["Patient"]["allow"], by_type["Patient"]["deny"]) == (12, 6)
    assert by_type["(none)"]["total"] == 5
    assert sum(r["total"] for r in by_type.values()) == EVENTS_IN_RANGE


def test_denials_by_reason_code(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    rows = results["overview_denials_by_reason.sql"][1]
    assert {r["reason"]: r["denials"] for r in rows} == DENIAL_REASONS
    assert rows[0]["reason"] == "scope.insufficient"  # most first
    over_time: Counter[str] = Counter()
    for row in results["overview_denials_by_reason_over_time.sql"][1]:
        over_time[row["reason"]] += row["denials"]
    assert over_time == DENIAL_REASONS


def test_top_principals_by_distinct_patients(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    rows = results["overview_top_principals.sql"][1]
    table = [(r["principal"], r["distinct_patients"], r["events"], r["denied"]) for r in rows]
    assert table == [
        ("dr-alice", 10, 34, 0),
        ("dr-bob", 7, 12, 0),
        ("bulk-client", 3, 5, 0),
        ("svc-scraper", 0, 8, 8),  # denied: the patients asked for were never reached
        ("", 0, 2, 2),
    ]
    assert {r["principal"]: r["break_glass"] for r in rows}["dr-bob"] == 2


def test_break_glass_and_export_events(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    rows = results["overview_break_glass_and_export_events.sql"][1]
    assert Counter(r["kind"] for r in rows) == {"break-glass": 2, "export": 1, "export.download": 1}
    download = next(r for r in rows if r["kind"] == "export.download")
    assert (download["principal"], download["patients"], download["returned"]) == (
        "bulk-client", 3, 3,
    )  # fmt: skip
    assert {r["purpose"] for r in rows if r["kind"] == "break-glass"} == {"ETREAT"}
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    over_time: Counter[str] = Counter()
    for row in results["overview_break_glass_and_export_over_time.sql"][1]:
        over_time[row["kind"]] += row["events"]
    assert over_time == {"break-glass": 2, "export": 1, "export.download": 1}


def test_alerts_by_kind_and_status(
    results: dict[str, tuple[list[tuple[str, str]], list[Row]]],
) -> None:
    rows = results["overview_alerts_by_kind.sql"][1]
    counts = {r["kind"]: (r["alerts"], r["open"], r["acknowledged"], r["suppressed"]) for r in rows}
    assert counts == {  # a-old was first seen before the range; a-db2's suppression is over
        "denied_burst": (2, 1, 0, 1),
        "break_glass": (1, 0, 1, 0),
        "export": (1, 1, 0, 0),
    }
    assert rows[0]["kind"] == "denied_burst"
    over_time: Counter[str] = Counter()
    for row in results["overview_alerts_over_time.sql"][1]:
        over_time[row["kind"]] += row["alerts"]
    assert over_time == {"denied_burst": 2, "break_glass": 1, "export": 1}
    latest = results["overview_latest_alerts.sql"][1]
    assert [r["alert_id"] for r in latest] == ["a-exp", "a-db2", "a-db1", "a-bg"]
    assert {r["alert_id"]: r["status"] for r in latest} == {
        "a-exp": "open", "a-db2": "open", "a-db1": "suppressed", "a-bg": "acknowledged",
    }  # fmt: skip


def test_pipeline_health(results: dict[str, tuple[list[tuple[str, str]], list[Row]]]) -> None:
    stored: dict[str, float] = {}
    for row in results["pipeline_sink_rate.sql"][1]:
        rows = row["rows_per_minute"] * INTERVAL_S / 60
        stored[row["producer"]] = stored.get(row["producer"], 0) + rows
    assert {p: round(n, 6) for p, n in stored.items()} == {"api-1": 46, "api-2": 14, "api-3": 1}
    lag = results["pipeline_evidence_lag.sql"][1]
    assert {row["p50_ms"] for row in lag} == {100}
    assert max(row["max_ms"] for row in lag) == 2000
    assert all(100 <= row["p99_ms"] <= 2000 for row in lag)
    freshness = {r["producer"]: r for r in results["pipeline_checkpoint_freshness.sql"][1]}
    assert list(freshness) == ["api-1", "api-2", "api-3"]
    table = {
        p: (r["checkpoint_age_s"], r["sealed_events"], r["last_sequence"], r["unsealed_events"])
        for p, r in freshness.items()
    }
    assert table == {
        "api-1": (END_S - CHECKPOINT_S, 49, 49, 0),
        "api-2": (END_S - CHECKPOINT_S, 13, 14, 1),
        "api-3": (None, 0, 1, 1),  # never sealed: no checkpoint, no age
    }
    assert freshness["api-1"]["last_checkpoint"].startswith(_utc(CHECKPOINT_S))
    assert freshness["api-3"]["last_checkpoint"] is None
