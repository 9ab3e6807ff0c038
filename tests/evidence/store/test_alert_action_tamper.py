"""verify_store names alert-action records changed, removed or forged in the store."""

import time

from evidence.core.alert_actions import SUPPRESS, AlertAction, action_event
from evidence.store import EvidenceStore, alert_actions
from evidence.store.verification import verify_store
from tests.evidence.builders import sealed_rows

NOW = int(time.time() * 1_000_000)
ACTION = AlertAction("al-1", SUPPRESS, "denied_burst", "dr-x", "aud-1", "pen test", NOW,
                     NOW + 10**9, "req-act")  # fmt: skip


def _stored(store: EvidenceStore) -> None:
    rows = sealed_rows([action_event(ACTION, "evt-act")])
    store.insert_rows(rows, dedup_token="t")
    alert_actions.record(store, ACTION)


def _kinds(store: EvidenceStore) -> list[str]:
    return [p.kind for p in verify_store(store, 0, NOW + 10**10).problems]


def test_intact_actions_verify(evidence_store: EvidenceStore) -> None:
    _stored(evidence_store)
    assert _kinds(evidence_store) == []


def test_an_extended_suppression_is_named(evidence_store: EvidenceStore) -> None:
    _stored(evidence_store)
    evidence_store.raw_command(
        f"ALTER TABLE {evidence_store.database}.alert_actions UPDATE until_us = until_us + 1 "
        "WHERE request_id = 'req-act' SETTINGS mutations_sync = 2"
    )
    assert _kinds(evidence_store) == ["alert_action.altered"]


def test_a_forged_suppression_is_named(evidence_store: EvidenceStore) -> None:
    _stored(evidence_store)
    alert_actions.record(evidence_store, AlertAction(
        "al-2", SUPPRESS, "bulk_access_spike", "dr-y", "aud-1", "shh", NOW, NOW + 10**9, "req-x"
    ))  # fmt: skip
    assert _kinds(evidence_store) == ["alert_action.unchained"]
