"""Which stored checkpoints can be relied on (pure): signature under a published key, body
in canonical form, columns and frontier agreeing with the body, and an unbroken checkpoint
chain (each names the hash of the body before it) that only grows and keeps its subtrees.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evidence.core.chain import GENESIS_HASH
from evidence.core.frontier import TreeEdge, shares_prefix
from evidence.core.problems import ChainProblem
from evidence.core.seal.checkpoint import NO_PREVIOUS, VerifyFn, signature_valid
from evidence.core.seal.rows import StoredCheckpoint
from evidence.core.seal.verify import ProducerResult


@dataclass(frozen=True, slots=True)
class Start:
    """Where a producer's verification starts: after the anchor checkpoint, or at genesis."""

    edge: TreeEdge | None
    size: int
    head: str | None


def start_state(
    producer: str,
    anchor: StoredCheckpoint | None,
    keys: Mapping[str, VerifyFn],
    result: ProducerResult,
) -> Start:
    """Genesis without an anchor; the anchor's signed state when it can be trusted; else a
    known size but no tree and no head (its problems go to `result`)."""
    if anchor is None:
        return Start(TreeEdge(), 0, GENESIS_HASH)
    result.checkpoints_checked += 1
    cp = anchor.checkpoint
    if cp is None or not _trust(producer, anchor, keys, result):
        return Start(None, anchor.tree_size, None)
    return Start(anchor.edge, cp.tree_size, cp.head)


def trusted_checkpoints(
    producer: str,
    anchor: StoredCheckpoint | None,
    start: Start,
    checkpoints: Iterable[StoredCheckpoint],
    keys: Mapping[str, VerifyFn],
    result: ProducerResult,
) -> list[StoredCheckpoint]:
    """Check signatures, columns, frontiers and the checkpoint chain; returns the checkpoints
    whose signed bodies can be relied on (the problems of the others go to `result`)."""
    trusted: list[StoredCheckpoint] = []
    previous = anchor if anchor is not None and start.head is not None else None
    prev_hash = anchor.body_hash if anchor is not None else NO_PREVIOUS
    for stored in checkpoints:
        result.checkpoints_checked += 1
        if not _trust(producer, stored, keys, result):
            prev_hash = stored.body_hash
            continue
        cp = stored.parsed
        if cp.previous != prev_hash:
            _cp_problem(
                result,
                "checkpoint.chain",
                producer,
                stored,
                "its previous-checkpoint hash does not match the checkpoint before it",
            )
        if previous is not None and previous.checkpoint is not None:
            _check_order(producer, previous, stored, result)
        trusted.append(stored)
        previous, prev_hash = stored, stored.body_hash
    return trusted


def _trust(
    producer: str, stored: StoredCheckpoint, keys: Mapping[str, VerifyFn], result: ProducerResult
) -> bool:
    cp = stored.checkpoint
    if cp is None or cp.producer_id != producer:
        _cp_problem(
            result,
            "checkpoint.altered",
            producer,
            stored,
            "its body is not a checkpoint of this producer",
        )
        return False
    if not signature_valid(stored.body, stored.key_id, stored.signature, keys):
        known = "invalid" if stored.key_id in keys else f"by unknown key {stored.key_id!r}"
        _cp_problem(result, "checkpoint.signature", producer, stored, f"signature {known}")
        return False
    if not stored.row_matches:
        _cp_problem(
            result,
            "checkpoint.altered",
            producer,
            stored,
            "its columns differ from its signed body",
        )
    if stored.edge is None:
        _cp_problem(
            result,
            "checkpoint.altered",
            producer,
            stored,
            "its stored frontier does not fold to its signed root",
        )
    return True


def _check_order(
    producer: str, before: StoredCheckpoint, after: StoredCheckpoint, result: ProducerResult
) -> None:
    a, b = before.parsed, after.parsed
    if b.tree_size < a.tree_size or b.time_us <= a.time_us:
        detail = "it is smaller or older than the checkpoint before it"
    elif b.tree_size == a.tree_size and (b.root != a.root or b.head != a.head):
        detail = "same tree size as the checkpoint before it but another root"
    elif (
        before.edge is not None
        and after.edge is not None
        and not shares_prefix(before.edge, after.edge)
    ):
        detail = "its tree does not extend the tree of the checkpoint before it"
    else:
        return
    _cp_problem(result, "checkpoint.consistency", producer, after, detail)


def _cp_problem(
    result: ProducerResult, kind: str, producer: str, stored: StoredCheckpoint, detail: str
) -> None:
    result.problems.append(
        ChainProblem(kind, producer, stored.tree_size, "", f"{stored.label}: {detail}")
    )
