"""Alert actions in the evidence store: history, latest action, status filter, suppressions."""

import time
from typing import Any

from evidence.core.alert_actions import ACKNOWLEDGE, SUPPRESS, AlertAction
from evidence.store import EvidenceStore, alert_actions
from tests.evidence.store.test_alert_store import alert

NOW = int(time.time() * 1_000_000)
S = 1_000_000


def act(alert_id: str, action: str, at: int, until: int = 0, **changes: Any) -> AlertAction:
    values = {
        "alert_id": alert_id, "action": action, "kind": "denied_burst", "principal": "dr-x",
        "actor": "auditor-1", "reason": f"{action} {alert_id}", "at_us": NOW + at,
        "until_us": NOW + until if until else 0, "request_id": f"req-{alert_id}-{at}",
    }  # fmt: skip
    return AlertAction(**{**values, **changes})


def page(store: EvidenceStore, status: str = "", **kw: Any) -> list[dict[str, Any]]:
    match = (kw.get("kind", ""), kw.get("principal", ""), status)
    return alert_actions.alerts_page(store, (0, 2**62), match, kw.get("now", NOW), 100)


def test_history_and_latest_action(evidence_store: EvidenceStore) -> None:
    first, second = act("a1", SUPPRESS, S, until=60 * S), act("a1", ACKNOWLEDGE, 2 * S)
    alert_actions.record(evidence_store, second)
    alert_actions.record(evidence_store, first)
    alert_actions.record(evidence_store, first)  # a replayed insert changes nothing
    assert alert_actions.actions(evidence_store, "a1") == [first, second]
    assert alert_actions.latest_action(evidence_store, "a1") == second
    assert alert_actions.actions(evidence_store, "nope") == []


def test_status_filter_joins_the_latest_action(evidence_store: EvidenceStore) -> None:
    evidence_store.upsert_alerts([alert(f"a{n}", n * 1000) for n in range(4)])
    alert_actions.record(evidence_store, act("a1", ACKNOWLEDGE, S))
    alert_actions.record(evidence_store, act("a2", SUPPRESS, S, until=60 * S))
    alert_actions.record(evidence_store, act("a3", SUPPRESS, S, until=30 * S))
    alert_actions.record(evidence_store, act("a3", ACKNOWLEDGE, 2 * S))  # latest wins
    ids = {status: [r["alert_id"] for r in page(evidence_store, status)]
           for status in ("open", "acknowledged", "suppressed")}  # fmt: skip
    assert ids == {"open": ["a0"], "acknowledged": ["a3", "a1"], "suppressed": ["a2"]}
    rows = {r["alert_id"]: r for r in page(evidence_store)}
    assert alert_actions.latest_of(rows["a0"]) is None
    assert alert_actions.latest_of(rows["a2"]) == act("a2", SUPPRESS, S, until=60 * S)
    later = NOW + 61 * S  # the suppression is over: open again
    assert [r["alert_id"] for r in page(evidence_store, "open", now=later)] == ["a2", "a0"]


def test_suppressions_in_force(evidence_store: EvidenceStore) -> None:
    alert_actions.record(evidence_store, act("a1", SUPPRESS, S, until=60 * S))
    alert_actions.record(evidence_store, act("a2", SUPPRESS, S, until=90 * S))  # same pair
    alert_actions.record(evidence_store, act("a3", SUPPRESS, S, until=90 * S, kind="export"))
    alert_actions.record(evidence_store, act("a3", ACKNOWLEDGE, 2 * S, kind="export"))
    alert_actions.record(evidence_store, act("a4", SUPPRESS, S, until=10 * S, principal="p2"))
    assert alert_actions.active_suppressions(evidence_store, NOW + 20 * S) == {
        ("denied_burst", "dr-x"): NOW + 90 * S
    }
    assert alert_actions.active_suppressions(evidence_store, NOW + 90 * S) == {}
