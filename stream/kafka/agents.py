"""The faust agents (thin: the work is in stream.workers). `concurrency=1` everywhere: more
loses messages in faust-streaming (open upstream bug), and one agent per partition set keeps
each principal's events in order.

pseudonymise: fhir.access.raw → enrich + pseudonymise + check seal → fhir.access.evidence
sink:         fhir.access.evidence → evidence store (batched, idempotent) → detection →
              alerts to fhir.alerts (and the store and the webhook)
Anything that can never be processed goes to the dead-letter topic with its reason; it
never blocks the partition.
"""

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from stream.kafka.messages import (
    EvidenceMessage,
    decode_evidence,
    encode_dead_letter,
    encode_evidence,
    evidence_key,
    raw_envelope,
)
from stream.metrics import DEAD_LETTERS
from stream.pipeline import PoisonEvent
from stream.workers import EvidenceSink, RawConverter, SinkStopped

log = structlog.get_logger("fhir_evidence.agents")
RAW_BATCH, RAW_WITHIN_S = 100, 0.05  # messages, each a run of up to 100 events
SINK_BATCH, SINK_WITHIN_S = 200, 0.2


class AlertOutbox:
    """Alerts raised on the sink's thread, waiting to be published from the agent's loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[bytes, bytes]] = []

    def put(self, key: bytes, body: bytes) -> None:
        with self._lock:
            self._items.append((key, body))

    def take(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            items, self._items = self._items, []
        return items


async def _dead_letter(
    topic: Any, stage: str, event: Any, exc: PoisonEvent, part: bytes | None = None
) -> None:
    """Park a whole message, or only `part` of it (one event of a run)."""
    DEAD_LETTERS.labels(stage=stage, code=exc.code).inc()
    message = event.message
    origin = (message.topic, message.partition, message.offset)
    value = message.value if part is None else part
    body = encode_dead_letter(origin, exc.code, str(exc), message.key, value)
    await topic.send(key=message.key, value=body)
    log.error("message parked in the dead-letter topic", topic=message.topic,
              partition=message.partition, offset=message.offset, reason=str(exc))  # fmt: skip


def register_agents(
    app: Any,
    topics: dict[str, Any],
    converter: RawConverter,
    sink: EvidenceSink,
    alerts: AlertOutbox,
) -> dict[str, Callable[..., Any]]:
    raw, evidence = topics["raw"], topics["evidence"]
    dead, alert_topic = topics["dead"], topics["alerts"]

    async def pseudonymise(stream: Any) -> None:
        async for events in stream.take_events(RAW_BATCH, within=RAW_WITHIN_S):
            for event in events:
                try:
                    producer_id, items = raw_envelope(event.message.value)
                except PoisonEvent as exc:
                    await _dead_letter(dead, "pseudonymise", event, exc)
                    continue
                converted = []
                for item in items:
                    try:
                        converted.append(converter.convert(producer_id, item))
                    except PoisonEvent as exc:
                        await _dead_letter(dead, "pseudonymise", event, exc, orjson.dumps(item))
                if converted:  # handed to the producer now; flushed before offsets commit
                    key = evidence_key(converted[0].row)
                    await evidence.send(key=key, value=encode_evidence(converted))

    async def store(stream: Any) -> None:
        async for events in stream.take_events(SINK_BATCH, within=SINK_WITHIN_S):
            good: list[EvidenceMessage] = []
            for event in events:
                try:
                    good.extend(decode_evidence(event.message.value))
                except PoisonEvent as exc:
                    await _dead_letter(dead, "sink", event, exc)
            await _stored(sink, good)
            for key, body in alerts.take():
                await alert_topic.send(key=key, value=body)

    return {
        "pseudonymise": app.agent(raw, name="pseudonymise", concurrency=1)(pseudonymise),
        "sink": app.agent(evidence, name="sink", concurrency=1)(store),
    }


async def _stored(sink: EvidenceSink, batch: list[EvidenceMessage]) -> None:
    """Store the batch before the agent moves on (which acknowledges its offsets). If the
    worker is stopped meanwhile, the store call is still awaited to its end: offsets of a
    batch that is not in the store must never be committed."""
    work = asyncio.ensure_future(asyncio.to_thread(sink.store_batch, batch))
    try:
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            await work
            raise
    except SinkStopped:
        # Stopped while the store was down: exit without committing anything, so the
        # batch is delivered again at the next start (crash-only, nothing acknowledged).
        log.critical("stopped with a batch not yet stored; exiting without commit")
        os._exit(75)
