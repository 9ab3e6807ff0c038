"""`fhir-evidence erase`: legal erasure of one patient's evidence rows, kept verifiable.

With the embedded runtime (the server stopped: chDB has one owner):
1. drain the outbox into the store and seal everything stored in a checkpoint, so every
   event to erase is covered by a signed root;
2. record each erased event (producer, sequence, event_hash, event_id) under a new erasure
   id, then append one erasure event to the chain whose policy_version commits to the
   digest of those records (`erasure/v1:<id>:<digest>`) and store it;
3. delete the rows (events and by-patient index), then checkpoint again.
`verify` then accounts for those sequences as "erased by <producer>/<sequence of the
erasure event>" and every other event's chain, checkpoint and proof still verify.
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from api.boot.runtime import build_runtime
from api.settings import Settings
from evidence.core.erasure import erasure_event
from evidence.store import EvidenceStore, erasure
from evidence.store.seal.store import SealStore

DRAIN_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    erasure_id: str
    erased: int
    kept_shared: int
    recorded_by: str  # "<producer>/<sequence>" of the erasure event; "" when nothing erased


def erase_patient(
    settings: Settings,
    patient_id: str,
    reason: str,
    include_shared: bool = False,
    clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    store: EvidenceStore | None = None,
) -> ErasureOutcome:
    """`store`: an open evidence store to use (tests); by default the settings' store."""
    if settings.kafka_bootstrap:
        raise RuntimeError("erase runs with the embedded runtime (no Kafka configured)")
    runtime = build_runtime(settings, demo_data=False, store=store)
    processor, runner = runtime.processor, runtime.checkpoints
    if processor is None or runner is None:  # the embedded runtime always builds both
        raise RuntimeError("erase needs the embedded processor and checkpoint runner")
    try:
        processor.drain(DRAIN_TIMEOUT_S)
        runner.checkpointer.run_once(clock_us())
        store = runtime.store
        patient_hash = runtime.services.auditing.pseudonymizer.patient(patient_id)
        plan = erasure.plan(store, patient_hash, reason, uuid.uuid4().hex, include_shared)
        if not plan.erased:
            return ErasureOutcome(plan.erasure_id, 0, plan.kept_shared, "")
        erasure.record(SealStore(store), plan, clock_us())
        event = erasure_event(plan.erasure_id, plan.digest, len(plan.erased), clock_us())
        sequence = asyncio.run(runtime.outbox.append(event))
        if not processor.drain(DRAIN_TIMEOUT_S):
            raise RuntimeError("the erasure event could not be stored; nothing was deleted")
        erasure.delete(store, plan.erased)
        runner.checkpointer.run_once(clock_us())
        recorded_by = f"{runtime.outbox.producer_id}/{sequence}"
        return ErasureOutcome(plan.erasure_id, len(plan.erased), plan.kept_shared, recorded_by)
    finally:
        runtime.stop()
