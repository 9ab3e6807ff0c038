"""Inclusion and consistency proofs from the node store, checked before they are handed out.

An inclusion proof is against the newest checkpoint of the event's producer (it covers every
earlier event); a consistency proof between two tree sizes of one producer. Both are built
from O(log n) stored perfect-subtree hashes and verified against the signed root(s) here:
a proof that would not verify is refused (ProofUnavailable), never served.
"""

from typing import Any

from evidence.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from evidence.core.queries import ProofUnavailable
from evidence.core.seal.rows import StoredCheckpoint, stored_checkpoint
from evidence.core.tree_proofs import assemble, consistency_ranges, inclusion_ranges, nodes_for
from evidence.store.seal.store import SealStore

__all__ = ["ProofUnavailable", "consistency", "inclusion"]


def _signed(row: dict[str, Any] | None) -> StoredCheckpoint | None:
    if row is None:
        return None
    stored = stored_checkpoint(row)
    if stored.checkpoint is None:
        raise ProofUnavailable("the checkpoint is damaged (run verify)")
    return stored


def _path(seals: SealStore, producer: str, ranges: list[tuple[int, int]]) -> list[bytes]:
    try:
        return assemble(ranges, seals.nodes(producer, nodes_for(ranges)))
    except KeyError:
        raise ProofUnavailable("tree nodes are missing (run verify)") from None


def inclusion(seals: SealStore, producer: str, sequence: int, event_hash: str) -> dict[str, Any]:
    """{leaf_index, leaf_hash, tree_size, inclusion_path, checkpoint}; ProofUnavailable when no
    checkpoint covers the event yet or the stored tree does not reproduce the signed root."""
    stored = _signed(seals.covering_checkpoint(producer, sequence))
    if stored is None or stored.checkpoint is None:
        raise ProofUnavailable("no checkpoint covers this event yet")
    cp = stored.checkpoint
    index, data = sequence - 1, bytes.fromhex(event_hash)
    path = _path(seals, producer, inclusion_ranges(index, cp.tree_size))
    if not verify_inclusion(data, index, cp.tree_size, path, cp.root):
        raise ProofUnavailable("the stored tree does not reproduce the signed root (run verify)")
    return {
        "leaf_index": index,
        "leaf_hash": leaf_hash(data).hex(),
        "tree_size": cp.tree_size,
        "inclusion_path": [h.hex() for h in path],
        "checkpoint": stored,
    }


def consistency(seals: SealStore, producer: str, first: int, second: int) -> dict[str, Any]:
    """The RFC 9162 consistency proof between two tree sizes of a producer's tree, with the
    checkpoints of those sizes when there are any; verified when both are."""
    latest = _signed(seals.latest_checkpoint(producer))
    if latest is None or latest.checkpoint is None or second > latest.checkpoint.tree_size:
        raise ProofUnavailable("no checkpoint of that size yet")
    path = _path(seals, producer, consistency_ranges(first, second))
    old = _signed(seals.checkpoint_of_size(producer, first))
    new = _signed(seals.checkpoint_of_size(producer, second))
    if old and new and old.checkpoint and new.checkpoint:
        roots = old.checkpoint.root, new.checkpoint.root
        if not verify_consistency(first, second, *roots, path):
            raise ProofUnavailable("the stored tree is not consistent (run verify)")
    return {"proof": [h.hex() for h in path], "first": old, "second": new}
