"""Verification reads all producers together, a window of sequences at a time: the result
does not depend on the window's width (one window, or many with empty ones skipped)."""

from typing import Any

import pytest

from evidence.core.merkle import leaf_hash
from evidence.core.seal.verify import Run
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


def test_the_engine_computes_each_events_merkle_leaf_as_the_core_does(
    evidence_store: EvidenceStore,
) -> None:
    """Rows with canonical hex ids take the fast path, with the leaf hash from the engine."""
    for producer in ("api-x", "api-y"):
        events = [make_event(n, event_id=f"{n:032x}") for n in range(1, 21)]
        evidence_store.insert_rows(sealed_rows(events, producer), dedup_token=producer)
    reader = chain_reader.ChainReader(evidence_store)
    windows = list(reader.windows_of_all({"api-x": (1, 20), "api-y": (1, 20)}))
    items = [item for window in windows for items in window.values() for item in items]
    runs = [item for item in items if isinstance(item, Run)]
    assert len(runs) == 2 and len(items) == 2  # each chain in one run: all fast, all linked
    read = [run.row(i) for run in runs for i in range(len(run.hashes))]
    read += list(reader.rows("api-x", 1, 20))
    assert len(read) == 60
    assert all(row[5] == leaf_hash(bytes.fromhex(row[3])) for row in read)
    assert verify_store(evidence_store, *ALL).intact
