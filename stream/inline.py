"""The embedded runtime's processor: outbox → pseudonymise/enrich → evidence store, in order.

At-least-once with an idempotent sink: the position is committed only after the store
accepted the batch, and the store's ReplacingMergeTree + FINAL hide any re-insert.
Poison events are parked in the outbox database's dead-letter table, never skipped silently.
"""

import hashlib
import threading
import time
from collections.abc import Callable

import structlog

from evidence.store import EvidenceStore, StoreUnavailable
from stream.metrics import DEAD_LETTERS, EVIDENCE_ROWS, SINK_BATCH_SECONDS
from stream.outbox import OutboxReader, OutboxRow
from stream.pipeline import PoisonEvent, sealed_row

log = structlog.get_logger("fhir_evidence.inline")
OUTBOX_KEEP = 50_000  # processed events kept in the outbox for operators, then pruned
WaitForCommit = Callable[[int, float], bool]
Observer = Callable[[list[dict[str, object]], list[dict[str, object]]], None]


class InlineProcessor:
    def __init__(
        self,
        reader: OutboxReader,
        store: EvidenceStore,
        wait_for_commit: WaitForCommit,
        batch_size: int = 2000,
        linger_s: float = 0.2,
        observer: Observer | None = None,
    ) -> None:
        self._reader = reader
        self._observer = observer
        self._store = store
        self._wait = wait_for_commit
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._position = reader.position()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one batch at a time: the reader is not shareable
        self._pruned_below = 0
        self.processed = 0

    @property
    def position(self) -> int:
        return self._position

    def process_available(self) -> int:
        """Process one batch of what is in the outbox; returns how many events were done."""
        with self._lock:
            done = self._process_batch()
        if self._position - self._pruned_below >= 2 * OUTBOX_KEEP:
            self._pruned_below = self._reader.prune_below(self._position - OUTBOX_KEEP)
        return done

    def _process_batch(self) -> int:
        rows = self._reader.read_after(self._position, self._batch_size)
        if not rows:
            return 0
        pairs = [(row, converted) for row in rows if (converted := self._convert(row)) is not None]
        good = [converted for _, converted in pairs]
        first, last = rows[0].sequence, rows[-1].sequence
        token = _dedup_token(f"{self._reader.producer_id}:{first}-{last}", good)
        started = time.monotonic()
        self._store.insert_rows(good, dedup_token=token)
        if good:
            SINK_BATCH_SECONDS.labels(runtime="inline").observe(time.monotonic() - started)
        self._reader.commit_position(last)
        self._position = last
        self.processed += len(rows)
        EVIDENCE_ROWS.labels(runtime="inline").inc(len(good))
        self._observe(good, [row.event for row, _ in pairs])
        return len(rows)

    def _observe(self, good: list[dict[str, object]], raw: list[dict[str, object]]) -> None:
        """Detection after the batch is stored; its failures never hold evidence back."""
        if self._observer is None or not good:
            return
        try:
            self._observer(good, raw)
        except Exception:
            log.exception("detection failed for a batch")

    def _convert(self, row: OutboxRow) -> dict[str, object] | None:
        try:
            return sealed_row(
                row.payload,
                self._reader.producer_id,
                row.sequence,
                row.prev_hash,
                row.event_hash,
            )
        except PoisonEvent as exc:
            self._reader.park_dead_letter(row.sequence, exc.code, str(exc))
            DEAD_LETTERS.labels(stage="inline", code=exc.code).inc()
            log.error("event parked as dead letter", sequence=row.sequence, reason=str(exc))
            return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inline-processor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                done = self.process_available()
                if done == 0:
                    self._wait(self._position, 0.25)
                elif done < self._batch_size:
                    # Let the next batch fill up: every insert is a part in the store and
                    # costs milliseconds whatever its size, so few large inserts are cheaper.
                    self._stop.wait(self._linger_s)
                backoff = 0.1
            except StoreUnavailable:
                log.warning("evidence store unavailable; retrying", backoff_s=backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:  # never let the thread die: nothing would move any more
                log.exception("inline processor error; retrying", backoff_s=backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def drain(self, timeout: float) -> bool:
        """Process until the outbox is empty (used on shutdown); True when fully drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._position >= self._reader.last_sequence():
                return True
            if self._thread is None or not self._thread.is_alive():
                try:
                    self.process_available()
                except Exception:
                    log.exception("drain failed; evidence stays in the outbox")
                    return False
            else:
                time.sleep(0.02)
        return self._position >= self._reader.last_sequence()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _dedup_token(batch: str, good: list[dict[str, object]]) -> str:
    """Names the rows actually inserted, not just the sequence range: a replay in which a
    former poison event now converts must not be dropped as a duplicate of the first try."""
    digest = hashlib.sha256("".join(str(row["event_hash"]) for row in good).encode())
    return f"{batch}:{digest.hexdigest()[:32]}"
