"""The embedded driver of the stream step: the outbox, read in order in this process.

A batch's position is committed only after the step stored it (at-least-once; the store's
insert token and FINAL hide any re-insert). Poison events are parked in the outbox
database's dead-letter table, never skipped silently.
"""

import math
import threading
import time
from collections.abc import Callable

import structlog

from stream.outbox import OutboxReader
from stream.outbox_retention import OutboxRetention
from stream.step import EvidenceStep, StepStopped

log = structlog.get_logger("fhir_evidence.inline")
OUTBOX_KEEP = 50_000  # processed events kept in the outbox for operators, then pruned
WaitForCommit = Callable[[int, float], bool]


class InlineProcessor:
    def __init__(
        self,
        reader: OutboxReader,
        step: EvidenceStep,
        wait_for_commit: WaitForCommit,
        batch_size: int = 2000,
        linger_s: float = 0.2,
    ) -> None:
        self._reader = reader
        self.step = step
        self._wait = wait_for_commit
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._position = reader.position()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one batch at a time: the reader is not shareable
        self._pruned_below = 0
        self.retention: OutboxRetention | None = None  # confirmed rows purged after it
        self.processed = 0

    @property
    def position(self) -> int:
        return self._position

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def last_sequence(self) -> int:
        """The newest sequence written to the outbox (read from the file: any writer)."""
        with self._lock:
            return self._reader.last_sequence()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Asked to stop: its thread ending is no failure."""
        return self._stop.is_set()

    def process_available(self, patience_s: float = 0.0) -> int:
        """Process one batch of what is in the outbox; returns how many events were done.
        While the store is down the step retries for `patience_s`, then raises
        StoreUnavailable with the position unchanged."""
        with self._lock:
            done = self._process_batch(patience_s)
            if self.retention is not None:  # idle or not: stored rows do not stay
                self.retention.maybe_purge()
        if self._position - self._pruned_below >= 2 * OUTBOX_KEEP:
            self._pruned_below = self._reader.prune_below(self._position - OUTBOX_KEEP)
        return done

    def _process_batch(self, patience_s: float) -> int:
        rows = self._reader.read_after(self._position, self._batch_size)
        if not rows:
            return 0
        for poison in self.step.run(rows, patience_s):
            self._reader.park_dead_letter(poison.row.sequence, poison.error.code,
                                          str(poison.error))  # fmt: skip
        last = rows[-1].sequence
        self._reader.commit_position(last)
        self._position = last
        self.processed += len(rows)
        return len(rows)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inline-processor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        keep_running(self._stop, self._one_pass, "inline processor")

    def _one_pass(self) -> None:
        done = self.process_available(patience_s=math.inf)
        if done == 0:
            self._wait(self._position, 0.25)
        elif done < self._batch_size:
            # Let the next batch fill up: every insert is a part in the store and
            # costs milliseconds whatever its size, so few large inserts are cheaper.
            self._stop.wait(self._linger_s)

    def drain(self, timeout: float) -> bool:
        """Process until the outbox is empty (used on shutdown); True when fully drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._position >= self._reader.last_sequence():
                return True
            if self._thread is None or not self._thread.is_alive():
                try:
                    self.process_available(patience_s=max(0.0, deadline - time.monotonic()))
                except Exception:
                    log.exception("drain failed; evidence stays in the outbox")
                    return False
            else:
                time.sleep(0.02)
        return self._position >= self._reader.last_sequence()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.step.stop()
        if self._thread is not None:
            self._thread.join(timeout)


def keep_running(stop: threading.Event, one_pass: Callable[[], None], what: str) -> None:
    """A driver thread's loop: `one_pass` until `stop` is set. StepStopped ends it (the
    batch in hand stays in the outbox for the next start); any other error is logged and
    retried with back-off (0.1 s doubling to 5 s): the thread never dies, or nothing would
    move any more."""
    backoff = 0.1
    while not stop.is_set():
        try:
            one_pass()
            backoff = 0.1
        except StepStopped:
            return
        except Exception:
            log.exception(f"{what} error; retrying", backoff_s=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)
