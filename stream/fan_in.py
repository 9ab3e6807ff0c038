"""The embedded driver over several outboxes (`serve --workers N`): each API process writes
an outbox of its own, and one thread of the pipeline process drains them all, one batch of
each in turn, through one stream step (so detection sees one ordered call at a time).

Each outbox keeps its own InlineProcessor (its reader, its durable position, its dead
letters and retention); this only drives them. Their writers live in other processes, so
waiting for a commit is polling (every `poll_s` while every outbox is idle). Every
`discover_s` the thread asks `discover` for processors of outboxes that appeared since
(an API process of a larger N): they join the turns from then on.
"""

import math
import threading
import time
from collections.abc import Callable

import structlog

from stream.heap import settle_heap
from stream.inline import InlineProcessor, keep_running
from stream.step import EvidenceStep

log = structlog.get_logger("fhir_evidence.fan_in")


def never_notified(_after: int, _timeout: float) -> bool:
    """The processors' WaitForCommit here: the fan-in's thread polls instead."""
    return False


def nothing_new() -> list[InlineProcessor]:
    return []


class OutboxFanIn:
    def __init__(
        self, processors: list[InlineProcessor], step: EvidenceStep, linger_s: float = 0.2,
        poll_s: float = 0.01, discover: Callable[[], list[InlineProcessor]] = nothing_new,
        discover_s: float = 2.0,
    ) -> None:  # fmt: skip
        self.processors, self.step = processors, step
        self._linger_s, self._poll_s = linger_s, poll_s
        self._discover, self._discover_s = discover, discover_s
        self._discovered_at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def processed(self) -> int:
        return sum(p.processed for p in self.processors)

    def lag(self) -> int:
        """Events written to the outboxes and not yet taken (reads every outbox's tip)."""
        return sum(max(0, p.last_sequence() - p.position) for p in self.processors)

    def start(self) -> None:
        settle_heap()  # the pipeline process works in batches from here on (stream.heap)
        self._thread = threading.Thread(target=self._run, name="outbox-fan-in", daemon=True)
        self._thread.start()

    def _pass(self, patience_s: float) -> tuple[int, bool]:
        """One batch of each outbox: (events done, whether any batch was full)."""
        done, full = 0, False
        for processor in self.processors:
            taken = processor.process_available(patience_s)
            done += taken
            full = full or taken >= processor.batch_size
        return done, full

    def _run(self) -> None:
        keep_running(self._stop, self._one_pass, "outbox fan-in")

    def discover(self) -> int:
        """Take on the outboxes that appeared since the last look; how many there were."""
        self._discovered_at = time.monotonic()
        found = self._discover()
        for processor in found:
            self.processors.append(processor)
            log.info("outbox joined the fan-in", outboxes=len(self.processors))
        return len(found)

    def _one_pass(self) -> None:
        if time.monotonic() - self._discovered_at >= self._discover_s:
            self.discover()
        done, full = self._pass(math.inf)
        if done == 0:
            self._stop.wait(self._poll_s)
        elif not full:  # let the next batches fill: every insert costs a part
            self._stop.wait(self._linger_s)

    def drain(self, timeout: float) -> bool:
        """Process until every outbox is empty (shutdown); True when fully drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.lag() == 0:
                return True
            if self.running:
                time.sleep(0.02)
                continue
            try:
                self._pass(max(0.0, deadline - time.monotonic()))
            except Exception:
                log.exception("drain failed; evidence stays in the outboxes")
                return False
        return self.lag() == 0

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.step.stop()
        if self._thread is not None:
            self._thread.join(timeout)
