"""Checkpoints as stored rows, and what the next checkpoint may seal (pure).

A checkpoint row holds the signed body and signature plus columns copied from the body for
querying, and the tree's frontier (hex, largest subtree first). Nothing but the signed body
is trusted: `stored_checkpoint` parses it and records whether the columns and the frontier
agree with it.
"""

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.core.errors import EvidenceError
from evidence.core.frontier import TreeEdge
from evidence.core.seal.checkpoint import Checkpoint, SignedCheckpoint, body_hash, decode_body

SealRow = tuple[int, str, str, int]  # (sequence, prev_hash, event_hash, ts_us) of an event


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    producer_id: str
    tree_size: int  # as the row says; the signed value is checkpoint.tree_size
    time_us: int
    body: bytes
    key_id: str
    signature: bytes
    checkpoint: Checkpoint | None  # None: the body does not parse
    edge: TreeEdge | None  # None: the frontier is malformed or does not fold to the root
    row_matches: bool  # the row's columns say what the signed body says

    @property
    def body_hash(self) -> str:
        return body_hash(self.body)

    @property
    def label(self) -> str:
        return f"checkpoint (tree size {self.tree_size}, time {self.time_us} us)"

    @property
    def parsed(self) -> Checkpoint:
        """The signed checkpoint, for code that has already set unparsable ones aside."""
        if self.checkpoint is None:
            raise EvidenceError(f"the body of this {self.label} does not parse")
        return self.checkpoint


def checkpoint_row(signed: SignedCheckpoint, frontier: Sequence[bytes]) -> dict[str, Any]:
    cp = signed.checkpoint
    return {
        "producer_id": cp.producer_id,
        "tree_size": cp.tree_size,
        "root": cp.root.hex(),
        "ts_us": cp.time_us,
        "head": cp.head,
        "previous": cp.previous,
        "body": signed.body.decode("utf-8"),
        "body_hash": signed.body_hash,
        "key_id": signed.key_id,
        "signature": base64.b64encode(signed.signature).decode("ascii"),
        "frontier": [h.hex() for h in frontier],
    }


def stored_checkpoint(row: Mapping[str, Any]) -> StoredCheckpoint:
    body = str(row["body"]).encode("utf-8")
    try:
        cp: Checkpoint | None = decode_body(body)
    except ValueError:
        cp = None
    return StoredCheckpoint(
        producer_id=str(row["producer_id"]),
        tree_size=int(row["tree_size"]),
        time_us=int(row["ts_us"]),
        body=body,
        key_id=str(row["key_id"]),
        signature=_b64(str(row["signature"])),
        checkpoint=cp,
        edge=_edge(cp, row["frontier"]) if cp is not None else None,
        row_matches=cp is not None and _columns_match(cp, row),
    )


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _edge(cp: Checkpoint, frontier: Iterable[str]) -> TreeEdge | None:
    try:
        edge = TreeEdge.restore(cp.tree_size, [bytes.fromhex(h) for h in frontier])
    except ValueError:
        return None
    return edge if edge.root() == cp.root else None


def _columns_match(cp: Checkpoint, row: Mapping[str, Any]) -> bool:
    return (
        cp.producer_id == row["producer_id"]
        and cp.tree_size == int(row["tree_size"])
        and cp.root.hex() == row["root"]
        and cp.time_us == int(row["ts_us"])
        and cp.head == row["head"]
        and cp.previous == row["previous"]
        and body_hash(str(row["body"]).encode("utf-8")) == row["body_hash"]
    )


def sealable_run(
    next_sequence: int, head: str, rows: Iterable[SealRow], erased: Mapping[int, str]
) -> list[str]:
    """The event hashes that extend a producer's tree from `next_sequence`, in order.

    `rows` come in sequence order; identical re-inserts count once. A sequence whose row
    was erased is sealed with the recorded hash. The run stops at the first gap, at a row
    whose predecessor link does not match, and at a sequence held by two different events:
    a checkpoint never signs over a chain that does not hold together.
    """
    run: list[str] = []
    expected, previous = next_sequence, head
    held: tuple[int, str, str] | None = None  # the one row seen so far for a sequence
    for sequence, prev_hash, event_hash, _ts in (*rows, (-1, "", "", 0)):
        if held is not None and sequence == held[0]:
            if (prev_hash, event_hash) != held[1:]:
                return run  # two different events claim one sequence
            continue
        if held is not None:  # `held` is complete: seal it
            if held[1] != previous:
                return run
            previous = held[2]
            run.append(previous)
            expected += 1
        if sequence < 0:
            break
        while expected < sequence and expected in erased:
            previous = erased[expected]
            run.append(previous)
            expected += 1
        if sequence != expected:
            return run
        held = (sequence, prev_hash, event_hash)
    while expected in erased:
        run.append(erased[expected])
        expected += 1
    return run
