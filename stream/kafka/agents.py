"""The faust agent that drives the stream step (thin: the work is `stream.step`).

evidence: fhir.access.raw → the stream step (seal check → enrich → store → detect →
          alert fan-out) → alerts to fhir.alerts (and the store and the webhook)

`concurrency=1`: more loses messages in faust-streaming (open upstream bug), and one agent
per partition set keeps each principal's events in order. Offsets are acknowledged when
the agent takes the next batch, so only after the step stored this one. Anything that can
never be processed goes to the dead-letter topic with its reason; it never blocks the
partition.
"""

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from stream.kafka.messages import decode_raw_event, encode_dead_letter, raw_envelope, raw_item
from stream.metrics import DEAD_LETTERS
from stream.outbox import OutboxRow
from stream.sealed import PoisonEvent
from stream.step import EvidenceStep, Parked, StepStopped

log = structlog.get_logger("fhir_evidence.agents")
BATCH, WITHIN_S = 200, 0.2  # messages (each a run of up to 100 events), seconds
STAGE = "kafka"  # the dead-letter metric's stage label
Origins = dict[int, Any]  # id(row) -> the faust event whose message carried it


class AlertOutbox:
    """The alerts topic as an alert sink: alerts raised on the step's thread wait here to
    be published from the agent's loop, keyed by alert id."""

    enabled = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[bytes, bytes]] = []

    def enqueue(self, key: str, body: bytes) -> None:
        with self._lock:
            self._items.append((key.split(":", 1)[0].encode(), body))

    def take(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            items, self._items = self._items, []
        return items


async def _dead_letter(topic: Any, event: Any, exc: PoisonEvent, part: bytes | None = None) -> None:
    """Park a whole message, or only `part` of it (one event of a run)."""
    DEAD_LETTERS.labels(stage=STAGE, code=exc.code).inc()
    message = event.message
    origin = (message.topic, message.partition, message.offset)
    value = message.value if part is None else part
    body = encode_dead_letter(origin, exc.code, str(exc), message.key, value)
    await topic.send(key=message.key, value=body)
    log.error("message parked in the dead-letter topic", topic=message.topic,
              partition=message.partition, offset=message.offset, reason=str(exc))  # fmt: skip


async def _decoded(events: list[Any], dead: Any) -> tuple[list[OutboxRow], Origins]:
    """The outbox rows the messages carry, in order; what cannot be decoded is parked."""
    batch: list[OutboxRow] = []
    origins: Origins = {}
    for event in events:
        try:
            producer_id, items = raw_envelope(event.message.value)
        except PoisonEvent as exc:
            await _dead_letter(dead, event, exc)
            continue
        for item in items:
            try:
                row = decode_raw_event(producer_id, item)
            except PoisonEvent as exc:
                await _dead_letter(dead, event, exc, orjson.dumps(item))
                continue
            batch.append(row)
            origins[id(row)] = event
    return batch, origins


def crash_exit(exc: BaseException) -> None:
    """The agent failed on a batch in a way no retry covers: exit at once, committing
    nothing (crash-only: the batch is delivered again, to this worker once an orchestrator
    restarts it or to another one of the group meanwhile)."""
    log.critical("evidence agent failed; exiting without commit", error=type(exc).__name__)
    os._exit(70)


def register_agent(
    app: Any,
    topics: dict[str, Any],
    step: EvidenceStep,
    alerts: AlertOutbox,
    on_crash: Callable[[BaseException], None] = crash_exit,
) -> Callable[..., Any]:
    """`on_crash` is called when a batch fails unexpectedly; the agent then holds its batch
    (never acknowledged) until the process ends."""
    raw, dead, alert_topic = topics["raw"], topics["dead"], topics["alerts"]

    async def evidence(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            try:
                await _batch(events, step, alerts, dead, alert_topic)
            except Exception as exc:  # every failure ends the process
                log.exception("evidence agent batch failed")
                on_crash(exc)
                await asyncio.Event().wait()  # never take the next batch: nothing is acked

    agent: Callable[..., Any] = app.agent(raw, name="evidence", concurrency=1)(evidence)
    return agent


async def _batch(events: list[Any], step: EvidenceStep, alerts: AlertOutbox, dead: Any,
                 alert_topic: Any) -> None:  # fmt: skip
    batch, origins = await _decoded(events, dead)
    for poison in await _stored(step, batch):
        await _dead_letter(dead, origins[id(poison.row)], poison.error,
                           orjson.dumps(raw_item(poison.row)))  # fmt: skip
    for key, body in alerts.take():
        await alert_topic.send(key=key, value=body)


async def _stored(step: EvidenceStep, batch: list[OutboxRow]) -> list[Parked]:
    """Run the step before the agent moves on (which acknowledges its offsets). If the
    worker is stopped meanwhile, the step is still awaited to its end: offsets of a batch
    that is not in the store must never be committed."""
    if not batch:
        return []
    work = asyncio.ensure_future(asyncio.to_thread(step.run, batch))
    try:
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await work
            raise
    except StepStopped:
        # Stopped while the store was down: exit without committing anything, so the
        # batch is delivered again at the next start (crash-only, nothing acknowledged).
        log.critical("stopped with a batch not yet stored; exiting without commit")
        os._exit(75)
