"""Alerts and detector state in the evidence store (every backend the fixture yields)."""

import time
from typing import Any

from evidence.store import EvidenceStore

NOW = int(time.time() * 1_000_000)  # rows older than the retention would expire on insert


def alert(alert_id: str, last_seen: int, **changes: Any) -> dict[str, Any]:
    base = {
        "alert_id": alert_id, "kind": "denied_burst", "severity": "high", "principal": "dr-x",
        "first_seen_us": NOW, "last_seen_us": NOW + last_seen, "window_start_us": 0, "window_s": 60,
        "counts": '{"denials": 20}', "rule_version": "1", "request_ids": ["r1", "r2"],
        "summary": "20 denials in 60 s", "explanation": '{"rule": "denied_burst"}',
    }  # fmt: skip
    return {**base, **changes}


def test_an_updated_alert_replaces_its_older_version(evidence_store: EvidenceStore) -> None:
    evidence_store.upsert_alerts([alert("a1", 2_000)])
    evidence_store.upsert_alerts([alert("a1", 3_000, counts='{"denials": 35}')])
    evidence_store.upsert_alerts([alert("a1", 2_500, counts='{"denials": 25}')])  # late, older
    rows = evidence_store.alerts(0, 2**62, "", "", 10)
    assert len(rows) == 1 and rows[0]["counts"] == '{"denials": 35}'
    assert rows[0]["explanation"] == '{"rule": "denied_burst"}'  # why it fired, kept
    assert evidence_store.alert("a1")["last_seen_us"] == NOW + 3_000  # type: ignore[index]
    assert evidence_store.alert("nope") is None


def test_alert_filters_and_paging(evidence_store: EvidenceStore) -> None:
    evidence_store.upsert_alerts(
        [
            alert(
                f"k{n}",
                10_000 + n,
                kind="export" if n % 2 else "break_glass",
                principal=f"p{n % 3}",
            )
            for n in range(10)
        ]
    )
    assert {r["kind"] for r in evidence_store.alerts(0, 2**62, "export", "", 100)} == {"export"}
    assert {r["principal"] for r in evidence_store.alerts(0, 2**62, "", "p1", 100)} == {"p1"}
    first = evidence_store.alerts(0, 2**62, "", "", 4)
    last = first[-1]
    rest = evidence_store.alerts(0, 2**62, "", "", 100, (last["last_seen_us"], last["alert_id"]))
    assert len(first) + len(rest) == 10
    assert {r["alert_id"] for r in first}.isdisjoint({r["alert_id"] for r in rest})


def test_detector_state_round_trip(evidence_store: EvidenceStore) -> None:
    assert evidence_store.load_state("baselines") is None
    evidence_store.save_state("baselines", '{"a": 1}', 1)
    evidence_store.save_state("baselines", '{"a": 2}', 2)
    assert evidence_store.load_state("baselines") == '{"a": 2}'
