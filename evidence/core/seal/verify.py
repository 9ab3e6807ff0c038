"""One producer's chain, erasures and signed checkpoints, verified in one ordered pass (pure).

Rows arrive in sequence order as ChainRow (content already checked by the caller against
the row's own event_hash), or in runs (`Run`: consecutive rows the reader found linked),
which are taken whole where nothing else happens inside them. Each sequence is accounted
for by a row, an erasure record or reported missing; links are checked; the Merkle tree is
extended with every event hash (erased ones from their record) and its root compared with
each signed checkpoint when the tree reaches its size. After each trusted checkpoint the
tree restarts from that checkpoint's own frontier, so every batch between two checkpoints is
judged on its own. A checkpoint whose root does not recompute becomes a Suspect for
`seal_diagnosis`, which names the events using the sealed leaves.
"""

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from evidence.core.chain import GENESIS_HASH
from evidence.core.frontier import TreeEdge
from evidence.core.merkle import leaf_hash
from evidence.core.problems import ChainProblem
from evidence.core.seal.rows import StoredCheckpoint


class ChainRow(NamedTuple):
    sequence: int
    event_id: str
    prev_hash: str
    event_hash: str
    content_ok: bool
    leaf: bytes | None = None  # the event's Merkle leaf hash, if the reader computed it


RawRow = tuple[int, str, str, str, bool, bytes | None]  # a ChainRow's fields, plain (cheaper)


@dataclass(frozen=True, slots=True)
class Run:
    """Rows of the consecutive sequences first, first + 1, ..., one row each, as the reader
    found them: content confirmed, ids and hashes canonical hex (raw bytes here), each row's
    prev_hash equal to the event_hash of the row before it. Only the first link, to what came
    before the run, is left to the verifier; a run it cannot take whole is fed row by row."""

    first: int
    first_prev: str
    event_ids: list[bytes]
    hashes: list[bytes]
    leaves: list[bytes]  # RFC 6962 leaf hash of each event hash

    def row(self, i: int) -> ChainRow:
        prev = self.first_prev if i == 0 else self.hashes[i - 1].hex()
        return ChainRow(
            self.first + i, self.event_ids[i].hex(), prev, self.hashes[i].hex(), True,
            self.leaves[i],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    erasure_id: str
    sequence: int
    event_hash: str
    event_id: str
    recorded_by: str  # "<producer>/<sequence>" of the erasure event; "" when none backs it
    altered: bool = False  # the erasure's records differ from what its event committed to


@dataclass(frozen=True, slots=True)
class Suspect:
    """A checkpoint whose root the stored events did not reproduce."""

    start: TreeEdge | None  # the trusted tree before the batch (None: unknown)
    start_size: int
    checkpoint: StoredCheckpoint


@dataclass(slots=True)
class ProducerResult:
    events_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    suspects: list[Suspect] = field(default_factory=list)
    erased: list[tuple[int, ErasureRecord]] = field(default_factory=list)


class ProducerVerifier:
    """Feed rows in (sequence, event_id) order, then `finish(last_sequence)`."""

    def __init__(
        self,
        producer: str,
        start: TreeEdge | None,
        start_size: int,
        start_head: str | None,
        checkpoints: Sequence[StoredCheckpoint] = (),
        erasures: Mapping[int, ErasureRecord] | None = None,
        result: ProducerResult | None = None,
    ) -> None:
        self.producer = producer
        self.result = result if result is not None else ProducerResult()
        self._edge = start.copy() if start is not None else None
        self._position = start_size  # every sequence up to here is accounted for
        self._head = start_head
        self._checkpoints = sorted(checkpoints, key=_chain_order)
        self._next_cp = 0
        self._erasures = erasures or {}
        self._erasure_sequences = sorted(self._erasures)
        self._batch_start = (self._edge.copy() if self._edge else None, start_size)
        self._last_row_sequence = -1
        self._next_size = self._checkpoint_size(0)

    def feed_all(self, rows: Iterable[RawRow | Run]) -> None:
        """`feed` each row. The common case (the next sequence, intact, linked to its
        predecessor, no checkpoint or erasure record at it) runs inline, the Merkle edge
        extended in place (`TreeEdge.append` without the calls): verification throughput
        is this loop's."""
        erasures, sha256, fromhex = self._erasures, hashlib.sha256, bytes.fromhex
        inline = 0
        for row in rows:
            if isinstance(row, Run):
                self.feed_run(row)
                continue
            seq, _event_id, prev_hash, event_hash, content_ok, leaf = row
            edge = self._edge
            if (
                content_ok
                and seq == self._position + 1
                and prev_hash == self._head
                and edge is not None
                and seq < self._next_size
                and seq not in erasures
            ):
                h = leaf if leaf is not None else sha256(b"\x00" + fromhex(event_hash)).digest()
                hashes, index = edge.hashes, edge.size
                while index & 1:
                    h = sha256(b"\x01" + hashes.pop() + h).digest()
                    index >>= 1
                hashes.append(h)
                edge.size += 1
                self._head, self._position, self._last_row_sequence = event_hash, seq, seq
                inline += 1
            else:
                self.feed(ChainRow._make(row))
        self.result.events_checked += inline

    def feed_run(self, run: Run) -> None:
        """The run's rows, whole stretches at a time: up to the next checkpoint size or
        erasure record, when the stretch continues the chain; any other row through `feed`."""
        count, i = len(run.hashes), 0
        while i < count:
            seq, edge = run.first + i, self._edge
            prev = run.first_prev if i == 0 else run.hashes[i - 1].hex()
            stop = min(count, self._next_size - run.first, self._next_erasure(seq) - run.first)
            if stop <= i or edge is None or seq != self._position + 1 or prev != self._head:
                self.feed(run.row(i))
                i += 1
                continue
            edge.extend(run.leaves[i:stop])
            self._head = run.hashes[stop - 1].hex()
            self._position = self._last_row_sequence = run.first + stop - 1
            self.result.events_checked += stop - i
            i = stop

    def _next_erasure(self, seq: int) -> int:
        """The first sequence >= seq with an erasure record (2**64 if none)."""
        at = bisect_left(self._erasure_sequences, seq)
        return self._erasure_sequences[at] if at < len(self._erasure_sequences) else 2**64

    def feed(self, row: ChainRow) -> None:
        self.result.events_checked += 1
        seq = row.sequence
        if not row.content_ok:
            self._problem("altered", seq, row.event_id, "content hash mismatch")
        if seq <= self._position:
            if seq == self._last_row_sequence:
                self._problem("duplicate", seq, row.event_id, "sequence repeated")
            return
        if seq > self._position + 1:
            self._account_gap(self._position + 1, seq - 1)
        if seq == 1 and row.prev_hash != GENESIS_HASH:
            self._problem("forged", seq, row.event_id, "bad genesis link")
        elif self._head is not None and row.prev_hash != self._head:
            detail = "predecessor link does not match the previous event"
            self._problem("forged", seq, row.event_id, detail)
        record = self._erasures.get(seq)
        if record is not None and record.event_hash != row.event_hash:
            self._problem(
                "erasure.altered",
                seq,
                row.event_id,
                f"the record of erasure {record.erasure_id} does not match the stored event",
            )
        self._last_row_sequence = seq
        self._account(seq, row.event_hash)

    def finish(self, last_sequence: int) -> ProducerResult:
        if last_sequence > self._position:
            self._account_gap(self._position + 1, last_sequence)
        return self.result

    def _account_gap(self, first: int, last: int) -> None:
        """Sequences with no row: erased ones from their records, the others missing."""
        position = first
        for seq in sorted(s for s in self._erasures if first <= s <= last):
            if seq > position:
                self._missing(position, seq - 1)
            record = self._erasures[seq]
            if not record.recorded_by and not record.altered:
                self._problem(
                    "erasure.unrecorded",
                    seq,
                    record.event_id,
                    f"erased by {record.erasure_id}, which no erasure event records",
                )
            self.result.erased.append((seq, record))
            self._account(seq, record.event_hash)
            position = seq + 1
        if position <= last:
            self._missing(position, last)

    def _missing(self, first: int, last: int) -> None:
        self._problem("missing", first, "", f"sequences {first}..{last} absent")
        self._edge, self._head = None, None
        self._position = last
        self._seal_points()

    def _account(self, seq: int, event_hash: str) -> None:
        if self._edge is not None:
            try:
                self._edge.append(leaf_hash(bytes.fromhex(event_hash)))
            except ValueError:
                self._edge = None
        self._head, self._position = event_hash, seq
        self._seal_points()

    def _checkpoint_size(self, index: int) -> int:
        if index >= len(self._checkpoints):
            return 2**64
        cp = self._checkpoints[index].parsed
        return cp.tree_size

    def _seal_points(self) -> None:
        while self._next_cp < len(self._checkpoints):
            stored = self._checkpoints[self._next_cp]
            cp = stored.parsed
            if cp.tree_size > self._position:
                return
            self._next_cp += 1
            self._next_size = self._checkpoint_size(self._next_cp)
            exact = cp.tree_size == self._position and self._edge is not None
            matched = exact and self._edge is not None and self._edge.root() == cp.root
            if matched and cp.head != self._head:
                matched = False
            if not matched:
                start, size = self._batch_start
                self.result.suspects.append(Suspect(start, size, stored))
            self._resync(stored, matched)

    def _resync(self, stored: StoredCheckpoint, matched: bool) -> None:
        cp = stored.parsed
        if stored.edge is not None:
            self._edge = stored.edge.copy()
        elif not matched:
            self._edge = None
        if cp.tree_size == self._position:
            self._head = cp.head
        self._batch_start = (self._edge.copy() if self._edge else None, cp.tree_size)

    def _problem(self, kind: str, seq: int, event_id: str, detail: str) -> None:
        self.result.problems.append(ChainProblem(kind, self.producer, seq, event_id, detail))


def _chain_order(stored: StoredCheckpoint) -> tuple[int, int]:
    cp = stored.parsed
    return cp.tree_size, cp.time_us
