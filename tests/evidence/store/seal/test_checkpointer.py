"""The Checkpointer against the real store (chDB): signed checkpoints whose roots are the RFC
6962 roots of the producers' event hashes, chained, incremental, heartbeats when quiet,
stopping at gaps, restartable, nodes stored for proofs."""

import time
from typing import Any

import pytest

from evidence.core.frontier import TreeEdge
from evidence.core.merkle import root
from evidence.core.seal.checkpoint import decode_body, signature_valid
from evidence.core.seal.rows import stored_checkpoint
from evidence.store import EvidenceStore
from evidence.store.seal.checkpointer import Checkpointer, CheckpointRunner
from evidence.store.seal.signing import signer_from_seed, verifiers
from tests.evidence.builders import make_event, sealed_rows

SIGNER = signer_from_seed(bytes(range(32)))
KEYS = verifiers({"keys": [SIGNER.jwk]})
NOW_US = int(time.time()) * 1_000_000
MINUTE_US = 60_000_000


def rows_of(count: int, producer: str = "api-cp") -> list[dict[str, Any]]:
    base = NOW_US - 3_600_000_000
    return sealed_rows(
        (make_event(n, ts_us=base + n * 1000) for n in range(1, count + 1)), producer
    )


def leaves(rows: list[dict[str, Any]]) -> list[bytes]:
    return [bytes.fromhex(r["event_hash"]) for r in rows]


def all_checkpoints(store: EvidenceStore, producer: str = "api-cp") -> list[dict[str, Any]]:
    return store.select(
        f"SELECT * FROM {store.database}.checkpoints FINAL WHERE producer_id = {{p:String}} "
        "ORDER BY tree_size, ts_us",
        {"p": producer},
    )


@pytest.fixture
def chain(evidence_store: EvidenceStore) -> list[dict[str, Any]]:
    rows = rows_of(60)
    evidence_store.insert_rows(rows[:40], dedup_token="first")
    return rows


def test_nothing_to_seal_in_an_empty_store(evidence_store: EvidenceStore) -> None:
    assert Checkpointer(evidence_store, SIGNER).run_once(NOW_US) == []


def test_first_checkpoint_signs_the_root_of_the_event_hashes(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    [signed] = Checkpointer(evidence_store, SIGNER).run_once(NOW_US)
    cp = signed.checkpoint
    assert (cp.producer_id, cp.tree_size, cp.time_us) == ("api-cp", 40, NOW_US)
    assert cp.root == root(leaves(chain[:40]))
    assert cp.head == chain[39]["event_hash"] and cp.previous == "0" * 64
    assert signature_valid(signed.body, signed.key_id, signed.signature, KEYS)
    [row] = all_checkpoints(evidence_store)
    stored = stored_checkpoint(row)
    assert stored.row_matches and stored.edge is not None and stored.edge.root() == cp.root
    assert decode_body(stored.body) == cp
    count = evidence_store.select(
        f"SELECT count() AS n FROM {evidence_store.database}.merkle_nodes", {}
    )[0]["n"]
    assert count == 2 * 40 - (40).bit_count()


def test_incremental_chained_and_heartbeats_only_when_due(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    checkpointer = Checkpointer(evidence_store, SIGNER, heartbeat_s=60)
    [first] = checkpointer.run_once(NOW_US)
    assert checkpointer.run_once(NOW_US + 10_000_000) == []  # quiet, heartbeat not due
    [beat] = checkpointer.run_once(NOW_US + MINUTE_US)
    assert beat.checkpoint.tree_size == 40 and beat.checkpoint.root == first.checkpoint.root
    assert beat.checkpoint.previous == first.body_hash
    evidence_store.insert_rows(chain[40:], dedup_token="second")
    [grown] = checkpointer.run_once(NOW_US + MINUTE_US + 1)
    assert grown.checkpoint.tree_size == 60
    assert grown.checkpoint.root == root(leaves(chain))
    assert grown.checkpoint.previous == beat.body_hash
    assert len(all_checkpoints(evidence_store)) == 3


def test_stops_at_a_gap_and_continues_when_it_closes(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    checkpointer = Checkpointer(evidence_store, SIGNER)
    evidence_store.insert_rows(chain[45:], dedup_token="after-gap")
    [signed] = checkpointer.run_once(NOW_US)
    assert signed.checkpoint.tree_size == 40
    evidence_store.insert_rows(chain[40:45], dedup_token="gap-filled")
    [signed] = checkpointer.run_once(NOW_US + 1)
    assert signed.checkpoint.tree_size == 60


def test_a_broken_link_or_a_doubled_sequence_is_not_sealed(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    forged = {**chain[40], "event_id": "forged", "prev_hash": "f" * 64}
    evidence_store.insert_rows([forged], dedup_token="forged")
    checkpointer = Checkpointer(evidence_store, SIGNER)
    assert checkpointer.run_once(NOW_US)[0].checkpoint.tree_size == 40
    evidence_store.insert_rows(chain[40:], dedup_token="genuine")  # seq 41 now twice
    assert checkpointer.run_once(NOW_US + MINUTE_US)[0].checkpoint.tree_size == 40


def test_a_restarted_checkpointer_continues_the_chain(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    [first] = Checkpointer(evidence_store, SIGNER).run_once(NOW_US)
    evidence_store.insert_rows(chain[40:], dedup_token="second")
    [second] = Checkpointer(evidence_store, SIGNER).run_once(NOW_US + 1)
    assert second.checkpoint.previous == first.body_hash
    assert second.checkpoint.root == root(leaves(chain))


def test_large_backlogs_are_sealed_in_bounded_steps(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    evidence_store.insert_rows(chain[40:], dedup_token="second")
    written = Checkpointer(evidence_store, SIGNER, max_leaves=25).run_once(NOW_US)
    assert [s.checkpoint.tree_size for s in written] == [25, 50, 60]
    assert [s.checkpoint.time_us for s in written] == [NOW_US, NOW_US + 1, NOW_US + 2]


def test_producers_are_sealed_independently(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    other = rows_of(7, producer="api-other")
    evidence_store.insert_rows(other, dedup_token="other")
    written = Checkpointer(evidence_store, SIGNER).run_once(NOW_US)
    sizes = {s.checkpoint.producer_id: s.checkpoint.tree_size for s in written}
    assert sizes == {"api-cp": 40, "api-other": 7}


def test_a_damaged_latest_checkpoint_is_not_built_upon(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    Checkpointer(evidence_store, SIGNER).run_once(NOW_US)
    evidence_store.command(
        f"ALTER TABLE {evidence_store.database}.checkpoints UPDATE frontier = ['00'] "
        "WHERE 1 SETTINGS mutations_sync = 1"
    )
    evidence_store.insert_rows(chain[40:], dedup_token="second")
    assert Checkpointer(evidence_store, SIGNER).run_once(NOW_US + 1) == []


def test_the_runner_seals_on_its_interval_and_on_stop(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    clock = iter(range(NOW_US, NOW_US + 10**9, 1_000_000))
    runner = CheckpointRunner(Checkpointer(evidence_store, SIGNER), 0.05, lambda: next(clock))
    runner.start()
    deadline = time.monotonic() + 10
    while not all_checkpoints(evidence_store) and time.monotonic() < deadline:
        time.sleep(0.05)
    evidence_store.insert_rows(chain[40:], dedup_token="second")
    runner.stop()
    assert max(r["tree_size"] for r in all_checkpoints(evidence_store)) == 60


def test_frontier_edges_restore_from_rows(
    evidence_store: EvidenceStore, chain: list[dict[str, Any]]
) -> None:
    Checkpointer(evidence_store, SIGNER).run_once(NOW_US)
    stored = stored_checkpoint(all_checkpoints(evidence_store)[0])
    assert isinstance(stored.edge, TreeEdge) and stored.edge.size == 40
