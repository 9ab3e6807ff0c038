"""Verification reads all producers together, a window of sequences at a time: the result
does not depend on the window's width (one window, or many with empty ones skipped)."""

from typing import Any

import pytest

from evidence.store import EvidenceStore, chain_reader
from evidence.store.verification import verify_store
from tests.evidence.builders import make_event, sealed_rows
from tests.evidence.core.test_verify import reseal

ALL = (0, 2**62)


def problems(store: EvidenceStore) -> list[tuple[str, str, int, str, str]]:
    report = verify_store(store, *ALL)
    return sorted(
        (p.kind, p.producer_id, p.sequence, p.event_id, p.detail) for p in report.problems
    )


@pytest.fixture
def chains(evidence_store: EvidenceStore) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for k, producer in enumerate(("api-a", "api-b", "api-c")):
        events = [make_event(1000 * k + n, event_id=f"evt-{k}-{n:04d}") for n in range(1, 31)]
        out[producer] = sealed_rows(events, producer)
        evidence_store.insert_rows(out[producer], dedup_token=producer)
    return out


@pytest.mark.parametrize("width", [3, 7, 40])
def test_window_width_does_not_change_the_report(
    evidence_store: EvidenceStore,
    chains: dict[str, list[dict[str, Any]]],
    width: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = evidence_store
    assert problems(store) == []
    victim = chains["api-b"][11]
    store.command(
        f"ALTER TABLE {store.database}.access_events DELETE WHERE event_id = "
        f"'{victim['event_id']}' SETTINGS mutations_sync = 1"
    )
    far = reseal(chains["api-c"][4], event_id="evt-far", sequence=10_000)
    store.insert_rows([far], dedup_token="far")
    store.insert_rows([{**chains["api-a"][20], "decision": "deny"}], dedup_token="edit")
    expected = problems(store)  # one window (the default width)
    assert {kind for kind, *_ in expected} >= {"missing", "forged", "altered"}
    monkeypatch.setattr(chain_reader, "WINDOW_RECORDS", width * 3)
    assert problems(store) == expected
