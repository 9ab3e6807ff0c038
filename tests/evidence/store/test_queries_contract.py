"""The evidence-query port (evidence.core.queries.EvidenceQueries), one contract for every
backend the `evidence_store` fixture yields (chDB always, a ClickHouse server where one is
configured), through its one adapter (evidence.store.queries.StoreQueries): what the auditor
API and the console rely on, method by method, over one small data set."""

import inspect
import time
from dataclasses import replace
from typing import Any

import pytest

from evidence.core import Decision
from evidence.core.alert_actions import ACKNOWLEDGE, SUPPRESS, AlertAction
from evidence.core.queries import (
    FOREVER_US,
    AccessFilter,
    AlertFilter,
    EvidenceQueries,
    ProofUnavailable,
)
from evidence.core.seal.rows import StoredCheckpoint
from evidence.store import EvidenceStore
from evidence.store.queries import StoreQueries
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed, verifiers
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

NOW_US = int(time.time()) * 1_000_000  # rows older than the retention would expire
HOUR_US = 3_600_000_000
SIGNER = signer_from_seed(bytes(range(32)))
PRODUCER = "api-port"
EVENTS = [
    make_event(
        n,
        ts_us=NOW_US - 2 * HOUR_US + n * 60_000_000,
        sub=("dr-a", "dr-b")[n % 2],
        decision=Decision.DENY if n % 4 == 0 else Decision.ALLOW,
        status=403 if n % 4 == 0 else 200,
        reasons=("break_glass",) if n == 3 else ("scope.granted",),
        patient_ids=(("pa", "pb")[n % 2],),
        request_id="req-shared" if n in (5, 6) else f"req-{n:06d}",
    )
    for n in range(1, 13)
]
ROWS = sealed_rows(EVENTS, producer_id=PRODUCER)


def alert(alert_id: str, seen_us: int, **changes: Any) -> dict[str, Any]:
    row = {
        "alert_id": alert_id, "kind": "denied_burst", "severity": "high", "principal": "dr-a",
        "first_seen_us": seen_us, "last_seen_us": seen_us, "window_start_us": seen_us,
        "window_s": 60, "counts": "{}", "rule_version": "1", "request_ids": ["req-000004"],
        "summary": "denials",
    }  # fmt: skip
    return {**row, **changes}


def action(alert_id: str, kind: str, at_us: int, until_us: int = 0) -> AlertAction:
    return AlertAction(alert_id, kind, "denied_burst", "dr-a", "auditor", "seen", at_us,
                       until_us, f"req-act-{alert_id}-{at_us}")  # fmt: skip


@pytest.fixture
def queries(evidence_store: EvidenceStore) -> StoreQueries:
    evidence_store.insert_rows(ROWS, dedup_token="port:1-12")
    evidence_store.upsert_alerts([alert("al-1", NOW_US - HOUR_US), alert("al-2", NOW_US)])
    return StoreQueries(evidence_store, verifiers({"keys": [SIGNER.jwk]}))


def sealed(queries: StoreQueries, store: EvidenceStore) -> StoreQueries:
    Checkpointer(store, SIGNER).run_once(NOW_US)
    return queries


def test_the_adapter_has_every_method_of_the_port() -> None:
    port = {n for n, _ in inspect.getmembers(EvidenceQueries) if not n.startswith("_")}
    adapter: EvidenceQueries = StoreQueries.__new__(StoreQueries)  # checked by mypy too
    assert port and all(callable(getattr(adapter, name)) for name in port)
    for name in port:
        ours = inspect.signature(getattr(StoreQueries, name))
        assert list(ours.parameters) == list(inspect.signature(getattr(EvidenceQueries, name))
                                              .parameters), name  # fmt: skip


def test_accesses_are_found_newest_first_paged_and_counted(queries: StoreQueries) -> None:
    every = queries.find_accesses(AccessFilter(), 100)
    assert [r["event_id"] for r in every] == [e.event_id for e in reversed(EVENTS)]
    first = queries.find_accesses(AccessFilter(), 5)
    position = (int(first[-1]["ts_us"]), str(first[-1]["event_id"]))
    rest = queries.find_accesses(AccessFilter(), 100, position)
    assert first + rest == every
    again = queries.find_accesses(AccessFilter(), 1, position, inclusive=True)
    assert again == [first[-1]]
    assert queries.count_accesses(AccessFilter()) == len(EVENTS)
    denied = AccessFilter(decisions=("deny",), sub="dr-a")
    expected = [e for e in EVENTS if e.decision is Decision.DENY and e.sub == "dr-a"]
    assert queries.count_accesses(denied) == len(expected) == 3


def test_a_patient_filter_reads_that_patients_accesses(queries: StoreQueries) -> None:
    f = AccessFilter(patient_hash=PSEUDONYMIZER.patient("pa"))
    rows = queries.find_accesses(f, 100)
    assert {r["event_id"] for r in rows} == {e.event_id for e in EVENTS if "pa" in e.patient_ids}
    assert queries.count_accesses(f) == len(rows) == 6


def test_an_export_snapshot_cuts_at_the_stores_clock(queries: StoreQueries) -> None:
    now_ms = queries.store_time_ms()
    assert abs(now_ms - time.time() * 1000) < 120_000
    assert queries.count_accesses(AccessFilter(stored_until_ms=now_ms)) == len(EVENTS)
    assert queries.count_accesses(AccessFilter(stored_until_ms=now_ms - 3_600_000)) == 0


def test_one_event_and_one_requests_events(queries: StoreQueries) -> None:
    row = queries.access_event(EVENTS[0].event_id)
    assert row is not None and row["request_id"] == EVENTS[0].request_id
    assert queries.access_event("nope") is None
    both = queries.request_events("req-shared")
    assert [r["event_id"] for r in both] == [EVENTS[4].event_id, EVENTS[5].event_id]
    assert queries.request_events("nope") == []


def test_alerts_of_a_request_and_one_alert(queries: StoreQueries) -> None:
    assert [a["alert_id"] for a in queries.alerts_for_request("req-000004")] == ["al-1", "al-2"]
    assert queries.alerts_for_request("req-000005") == []
    one = queries.alert("al-2")
    assert one is not None and one["kind"] == "denied_burst" and queries.alert("nope") is None


def test_hourly_activity_and_break_glass_uses(queries: StoreQueries) -> None:
    hours = queries.hourly_activity("dr-a", 0, FOREVER_US)
    mine = [e for e in EVENTS if e.sub == "dr-a"]
    assert sum(int(h["requests"]) for h in hours) == len(mine)
    assert sum(int(h["denials"]) for h in hours) == sum(e.decision == "deny" for e in mine)
    assert [int(h["hour_us"]) for h in hours] == sorted(int(h["hour_us"]) for h in hours)
    uses = queries.break_glass_uses("dr-b", 0, FOREVER_US)
    assert [u["request_id"] for u in uses] == [EVENTS[2].request_id]
    assert queries.break_glass_uses("dr-a", 0, FOREVER_US) == []


def test_alert_actions_are_recorded_read_and_joined_to_the_page(queries: StoreQueries) -> None:
    assert queries.alert_actions("al-1") == []
    suppress = action("al-1", SUPPRESS, NOW_US - 1000, until_us=NOW_US + HOUR_US)
    acknowledge = action("al-2", ACKNOWLEDGE, NOW_US - 500)
    queries.record_alert_action(suppress)
    queries.record_alert_action(acknowledge)
    assert queries.alert_actions("al-1") == [suppress]
    page = queries.alerts_page(AlertFilter(), NOW_US, 10)
    assert [(e.alert["alert_id"], e.latest) for e in page] == [
        ("al-2", acknowledge), ("al-1", suppress),
    ]  # fmt: skip
    assert "last_action" not in page[0].alert and page[0].alert["last_seen_us"] == NOW_US
    suppressed = queries.alerts_page(AlertFilter(status="suppressed"), NOW_US, 10)
    assert [e.alert["alert_id"] for e in suppressed] == ["al-1"]
    after = (int(page[0].alert["last_seen_us"]), str(page[0].alert["alert_id"]))
    assert [e.alert["alert_id"] for e in queries.alerts_page(AlertFilter(), NOW_US, 10, after)] == [
        "al-1"
    ]
    assert queries.alerts_page(replace(AlertFilter(), kind="export"), NOW_US, 10) == []


def test_checkpoints_proofs_and_verification(
    queries: StoreQueries, evidence_store: EvidenceStore
) -> None:
    with pytest.raises(ProofUnavailable):
        queries.inclusion_proof(PRODUCER, 1, str(ROWS[0]["event_hash"]))
    sealed(queries, evidence_store)
    [checkpoint] = queries.checkpoint_page(PRODUCER, 0, FOREVER_US, 10, None)
    assert int(checkpoint["tree_size"]) == len(EVENTS)
    assert queries.checkpoint_page("other", 0, FOREVER_US, 10, None) == []
    proof = queries.inclusion_proof(PRODUCER, 3, str(ROWS[2]["event_hash"]))
    assert proof["leaf_index"] == 2 and proof["tree_size"] == len(EVENTS)
    assert isinstance(proof["checkpoint"], StoredCheckpoint)
    consistency = queries.consistency_proof(PRODUCER, 4, len(EVENTS))
    assert consistency["proof"] and consistency["second"] is not None
    with pytest.raises(ProofUnavailable):
        queries.consistency_proof(PRODUCER, 4, len(EVENTS) + 1)
    report = queries.verify(0, FOREVER_US)
    assert report.intact and report.events_checked == len(EVENTS)


def test_verification_names_a_forged_event(
    queries: StoreQueries, evidence_store: EvidenceStore
) -> None:
    forged = dict(ROWS[3], event_id="f" * 32, count_returned=99)
    evidence_store.insert_rows([forged], dedup_token="port:forged")
    report = queries.verify(0, FOREVER_US)
    assert not report.intact and report.problems
