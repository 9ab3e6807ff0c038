"""The stream step: one batch of logged events becomes evidence and alerts, the same way
for every driver.

    check seal → enrich → store batch → detect → alert fan-out

The drivers (`stream.inline`: the outbox in order, in process; `stream.kafka.agents`: the
raw topic, in a faust agent) own where events come from, where poison is parked and when
their position is committed; they commit only after `run` returned, so a batch is never
acknowledged before it is in the store. Everything in between is here, once: the seal
check, the insert's deduplication token, the retry policy while the store is down, the
metrics, and detection, which runs after the batch is stored and never holds it back.
"""

import hashlib
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from evidence.core import StoreUnavailable
from stream.metrics import DEAD_LETTERS, EVIDENCE_ROWS, SINK_BATCH_SECONDS
from stream.outbox import OutboxRow
from stream.sealed import PoisonEvent, checked_row

log = structlog.get_logger("fhir_evidence.step")
Row = dict[str, Any]
Enrich = Callable[[Mapping[str, Any]], dict[str, Any]]  # raw event -> facts for detection
MAX_BACKOFF_S = 5.0


class EvidenceSink(Protocol):
    """Where evidence rows go: idempotent on the token, StoreUnavailable while down."""

    def insert_rows(self, rows: Sequence[Row], dedup_token: str) -> None: ...


class Detection(Protocol):
    """The rules over one stored batch (rows and their enrichments, in order); raises the
    alerts and hands them to their sinks."""

    def observe(self, rows: Sequence[Row], enrichments: Sequence[Mapping[str, Any]]) -> object: ...


class StepStopped(Exception):
    """Asked to stop while the store was down: the batch is not stored, so its driver must
    not commit its position."""


@dataclass(frozen=True, slots=True)
class Parked:
    """An event that can never become evidence as it is, for its driver to park."""

    row: OutboxRow
    error: PoisonEvent


def batch_token(rows: Sequence[Row]) -> str:
    """The insert's deduplication token, naming exactly the rows of a batch: a batch sent
    again with the same rows is dropped by the store; any other re-insert is hidden by
    FINAL. (A replay in which a former poison event now passes is a different batch.)"""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(str(row["event_hash"]).encode())
    return f"evidence:{digest.hexdigest()[:40]}"


class EvidenceStep:
    def __init__(
        self,
        sink: EvidenceSink,
        key_versions: Collection[int],
        runtime: str,
        enrich: Enrich | None = None,
        detection: Detection | None = None,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        """`runtime` labels the metrics ("inline", "kafka"); `key_versions`: the versions
        of the pseudonymisation key this deployment holds."""
        self._sink, self._key_versions, self._runtime = sink, key_versions, runtime
        self._enrich, self._detection = enrich, detection
        self._max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self.stored = 0
        self.paused = False  # the store is down and the step is waiting for it

    def stop(self) -> None:
        self._stop.set()

    def run(self, batch: Sequence[OutboxRow], patience_s: float = math.inf) -> list[Parked]:
        """Store the batch's evidence and run detection over it; returns what must be
        parked. While the store is down it retries with back-off for `patience_s` (then
        raises StoreUnavailable) or until `stop` (then raises StepStopped)."""
        good: list[tuple[OutboxRow, Row]] = []
        parked: list[Parked] = []
        for logged in batch:
            try:
                good.append((logged, checked_row(logged, self._key_versions)))
            except PoisonEvent as exc:
                parked.append(Parked(logged, exc))
        if good:
            rows = [row for _, row in good]
            enrichments = [self._enrichment(logged.event) for logged, _ in good]
            self._store(rows, patience_s)
            self._detect(rows, enrichments)
        for poison in parked:
            DEAD_LETTERS.labels(stage=self._runtime, code=poison.error.code).inc()
            log.error("event parked as dead letter", producer=poison.row.producer_id,
                      sequence=poison.row.sequence, reason=str(poison.error))  # fmt: skip
        return parked

    def _enrichment(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self._enrich is None:
            return {}
        try:
            return self._enrich(event)
        except Exception:  # enrichment is best effort; the evidence goes on without it
            log.exception("enrichment failed")
            return {}

    def _store(self, rows: list[Row], patience_s: float) -> None:
        token, started = batch_token(rows), time.monotonic()
        deadline, backoff = started + patience_s, 0.1
        while True:
            try:
                self._sink.insert_rows(rows, dedup_token=token)
                break
            except StoreUnavailable:
                if not self.paused:
                    log.warning("evidence store unavailable; the stream waits for it")
                self.paused = True
                wait = min(backoff, deadline - time.monotonic())
                if wait <= 0:
                    raise
            if self._stop.wait(wait):
                raise StepStopped("stopped before the batch was stored")
            backoff = min(backoff * 2, self._max_backoff_s)
        if self.paused:
            log.info("evidence store back; the stream resumed")
        self.paused = False
        SINK_BATCH_SECONDS.labels(runtime=self._runtime).observe(time.monotonic() - started)
        EVIDENCE_ROWS.labels(runtime=self._runtime).inc(len(rows))
        self.stored += len(rows)

    def _detect(self, rows: list[Row], enrichments: list[dict[str, Any]]) -> None:
        if self._detection is None:
            return
        try:
            self._detection.observe(rows, enrichments)
        except Exception:  # detection never holds evidence back
            log.exception("detection failed for a batch")
