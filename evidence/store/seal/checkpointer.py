"""The Checkpointer: seals each producer's stored events into signed Merkle checkpoints.

`run_once(now_us)` reads, per producer, the stored events after the last checkpoint's tree
size (only the contiguous, correctly linked run: it stops at a gap, which verify reports
if it persists), extends the tree from the frontier kept with the last checkpoint (cost:
the new leaves only), stores the new perfect-subtree nodes and then the signed checkpoint.
With nothing new it still writes a heartbeat checkpoint (same size and root, new time) at
most every `heartbeat_us`, so that silence is provable. It depends on the evidence store
and a Signer only: the embedded runtime runs it from `CheckpointRunner` (a thread), the
Kafka runtime from a faust timer. Exactly one Checkpointer may run per store (the
checkpoints of a producer form a chain; a second writer would fork it).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from evidence.core.chain import GENESIS_HASH
from evidence.core.errors import EvidenceError, StoreUnavailable
from evidence.core.frontier import Node, TreeEdge
from evidence.core.seal.checkpoint import (
    NO_PREVIOUS,
    Checkpoint,
    SignedCheckpoint,
    Signer,
    sign_checkpoint,
)
from evidence.core.seal.rows import checkpoint_row, sealable_run, stored_checkpoint
from evidence.store.clickhouse import EvidenceStore
from evidence.store.seal.store import SealStore

log = structlog.get_logger("fhir_evidence.checkpoints")
CHECKPOINT_INTERVAL_S = 10.0
HEARTBEAT_S = 60.0
MAX_LEAVES_PER_CHECKPOINT = 500_000


class CheckpointRefused(EvidenceError):
    code = "checkpoint.refused"


@dataclass(slots=True)
class _Tip:
    """What the next checkpoint of a producer builds on."""

    edge: TreeEdge
    head: str
    previous: str  # body hash of the last checkpoint
    time_us: int
    head_ts_us: int  # time stamp of the head event: later events are no older, less a margin


_GENESIS = _Tip(TreeEdge(), GENESIS_HASH, NO_PREVIOUS, 0, 0)
TS_MARGIN_US = 86_400_000_000  # how much earlier than its predecessor an event may be stamped


class Checkpointer:
    def __init__(
        self,
        store: EvidenceStore,
        signer: Signer,
        heartbeat_s: float = HEARTBEAT_S,
        max_leaves: int = MAX_LEAVES_PER_CHECKPOINT,
    ) -> None:
        self.seals = SealStore(store)
        self._signer = signer
        self._heartbeat_us = int(heartbeat_s * 1_000_000)
        self._max_leaves = max_leaves
        self._tips: dict[str, _Tip] = {}
        self._lock = threading.Lock()

    def run_once(self, now_us: int) -> list[SignedCheckpoint]:
        """One pass over every producer; returns the checkpoints written."""
        written: list[SignedCheckpoint] = []
        with self._lock:
            for producer in self.seals.producers():
                try:
                    written.extend(self._advance(producer, now_us))
                except CheckpointRefused as exc:
                    log.error("checkpoint refused", producer=producer, reason=str(exc))
        return written

    def _advance(self, producer: str, now_us: int) -> list[SignedCheckpoint]:
        tip = self._tips.get(producer) or self._load_tip(producer)
        written: list[SignedCheckpoint] = []
        while True:
            run, head_ts = self._next_run(producer, tip)
            quiet = now_us - tip.time_us < self._heartbeat_us
            if not run and (quiet or written):
                return written
            tip, signed = self._seal(producer, tip, run, now_us, head_ts)
            written.append(signed)
            if len(run) < self._max_leaves:
                return written

    def _next_run(self, producer: str, tip: _Tip) -> tuple[list[str], int]:
        """The event hashes to seal next, and the time stamp of the last of them."""
        start, floor = tip.edge.size, max(0, tip.head_ts_us - TS_MARGIN_US)
        rows = self.seals.seal_rows(producer, start, self._max_leaves + 1, floor)
        erased = {
            int(r["sequence"]): str(r["event_hash"])
            for r in self.seals.erasures(producer, start + 1, 2**63)
        }
        run = sealable_run(start + 1, tip.head, rows, erased)[: self._max_leaves]
        stamps = {seq: ts for seq, _prev, _hash, ts in rows}
        return run, stamps.get(start + len(run), tip.head_ts_us)

    def _seal(
        self, producer: str, tip: _Tip, run: list[str], now_us: int, head_ts: int
    ) -> tuple[_Tip, SignedCheckpoint]:
        edge, nodes = tip.edge.copy(), list[Node]()
        for event_hash in run:
            edge.append_data(bytes.fromhex(event_hash), nodes)
        time_us = max(now_us, tip.time_us + 1)
        head = run[-1] if run else tip.head
        checkpoint = Checkpoint(producer, edge.size, edge.root(), time_us, head, tip.previous)
        signed = sign_checkpoint(checkpoint, self._signer)
        self.seals.insert_nodes(producer, nodes, time_us // 1_000_000)
        self.seals.insert_checkpoint(checkpoint_row(signed, edge.hashes))
        new_tip = _Tip(edge, head, signed.body_hash, time_us, head_ts)
        self._tips[producer] = new_tip
        return new_tip, signed

    def _load_tip(self, producer: str) -> _Tip:
        row = self.seals.latest_checkpoint(producer)
        if row is None:
            return _GENESIS
        stored = stored_checkpoint(row)
        if stored.checkpoint is None or stored.edge is None or not stored.row_matches:
            raise CheckpointRefused("the latest checkpoint is damaged (run verify)")
        cp = stored.checkpoint
        head_ts = self.seals.event_time(producer, cp.tree_size) if cp.tree_size else 0
        return _Tip(stored.edge, cp.head, stored.body_hash, cp.time_us, head_ts or 0)


class CheckpointRunner:
    """Runs `run_once` every `interval_s` on a daemon thread, and once more on stop."""

    def __init__(
        self,
        checkpointer: Checkpointer,
        interval_s: float = CHECKPOINT_INTERVAL_S,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self.checkpointer = checkpointer
        self._interval = interval_s
        self._clock = clock_us
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Asked to stop: its thread ending is no failure."""
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_safely()

    def run_safely(self) -> int:
        try:
            return len(self.checkpointer.run_once(self._clock()))
        except StoreUnavailable:
            log.warning("evidence store unavailable; checkpoint postponed")
        except Exception:  # never let the thread die: silence would go unproven
            log.exception("checkpointing failed; retrying at the next interval")
        return 0

    def stop(self, final_pass: bool = True, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if final_pass:
            self.run_safely()
