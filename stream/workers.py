"""The steps the faust agents run, without faust: so they are tested on their own and the
inline processor and the Kafka workers share one implementation of each.

- `RawConverter`: raw message → pseudonymous, enriched evidence message: the pseudonymous
  payload sealed at the source is checked against its seal (the same step as inline), the
  raw event is used for enrichment only and goes no further.
- `EvidenceSink`: a batch of evidence messages → the evidence store (idempotent, retried
  until stored: a batch is never acknowledged before it is in the store) → detection.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore, StoreUnavailable
from stream.kafka.messages import EvidenceMessage, decode_raw_event
from stream.metrics import EVIDENCE_ROWS, SINK_BATCH_SECONDS
from stream.pipeline import PoisonEvent, sealed_row

log = structlog.get_logger("fhir_evidence.workers")
Enrich = Callable[[dict[str, Any]], dict[str, Any]]
Observe = Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]


class SinkStopped(Exception):
    """The sink was asked to stop before the batch was stored: it must not be acknowledged."""


class RawConverter:
    def __init__(self, pseudonymizers: Mapping[int, Pseudonymizer], enrich: Enrich | None) -> None:
        self._pseudonymizers = pseudonymizers
        self._enrich = enrich

    def convert(self, producer_id: str, item: Any) -> EvidenceMessage:
        """One event of a raw message; raises PoisonEvent for anything that can never
        become evidence as it is."""
        raw = decode_raw_event(producer_id, item)
        row = sealed_row(
            raw.payload, raw.producer_id, raw.sequence, raw.prev_hash, raw.event_hash
        )  # the seal is checked on the exact pseudonymous bytes, as the inline processor does
        if raw.key_version not in self._pseudonymizers:
            raise PoisonEvent(f"no pseudonymisation key of version {raw.key_version}")
        if raw.event.get("event_id") != row["event_id"]:
            raise PoisonEvent("raw event and sealed payload are different events")
        return EvidenceMessage(row, self._enrichment(raw.event))

    def _enrichment(self, event: dict[str, Any]) -> dict[str, Any]:
        if self._enrich is None:
            return {}
        try:
            return self._enrich(event)
        except Exception:  # enrichment is best effort; the evidence goes on without it
            log.exception("enrichment failed")
            return {}


def batch_token(messages: Sequence[EvidenceMessage]) -> str:
    """Insert deduplication token naming exactly the rows of a batch: a redelivered batch
    with the same rows is dropped by the store; any other re-insert is hidden by FINAL."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(str(message.row["event_hash"]).encode())
    return f"kafka:{digest.hexdigest()[:40]}"


class EvidenceSink:
    def __init__(
        self,
        store: EvidenceStore,
        observe: Observe | None = None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._store = store
        self._observe = observe
        self._max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self.stored = 0
        self.paused = False

    def stop(self) -> None:
        self._stop.set()

    def store_batch(self, messages: Sequence[EvidenceMessage]) -> None:
        """Blocks until the batch is stored (pausing while the store is down); raises
        SinkStopped if asked to stop first. Detection runs after, never holding it back."""
        if not messages:
            return
        rows = [message.row for message in messages]
        started = time.monotonic()
        self._insert(rows, batch_token(messages))
        SINK_BATCH_SECONDS.labels(runtime="kafka").observe(time.monotonic() - started)
        self.stored += len(rows)
        EVIDENCE_ROWS.labels(runtime="kafka").inc(len(rows))
        if self._observe is not None:
            try:
                self._observe(rows, [message.enrichment for message in messages])
            except Exception:
                log.exception("detection failed for a batch")

    def _insert(self, rows: list[dict[str, Any]], token: str) -> None:
        backoff = 0.1
        while True:
            try:
                self._store.insert_rows(rows, dedup_token=token)
                if self.paused:
                    log.info("evidence store back; sink resumed")
                self.paused = False
                return
            except StoreUnavailable:
                if not self.paused:
                    log.warning("evidence store unavailable; sink paused")
                self.paused = True
            if self._stop.wait(backoff):
                raise SinkStopped("stopped before the batch was stored")
            backoff = min(backoff * 2, self._max_backoff_s)
