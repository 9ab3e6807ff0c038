"""The pipeline process of `serve --workers N` (embedded, no Kafka): the only process that
opens the evidence store (chDB allows one per store). It drains every outbox of the data dir
(one per API process, plus its own) through one stream step (seal check, enrichment, store,
detection, alerts), seals the checkpoints, serves the store to the API processes
(evidence.store.remote) and writes its health to `pipeline-health.json` on every watchdog
beat, which the API processes' /readyz reads (`workers`, `evidence_store`), and its metrics
(Prometheus text) to `pipeline-metrics.prom`, which their GET /metrics shows.

SIGTERM: the outboxes are drained into the store (the supervisor stops the API processes
first), the last checkpoint is sealed, then the process exits 0 (or the code of a fatal
pipeline failure).
"""

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from prometheus_client import generate_latest

from api.boot.alerting import Alerting, build_step
from api.boot.checkpointing import build_checkpoint_runner, checkpoint_signer
from api.boot.health import PipelineHealth, Supervised, alert_raiser, fhir_store_probe, stall_watch
from api.boot.keys import HASH_KEY_VERSION, derived_key, hash_key
from api.boot.stores import open_evidence
from api.http.metrics import bind_levels
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from evidence.store.remote import StoreServer
from stream.fan_in import OutboxFanIn, never_notified
from stream.health import Health
from stream.inline import InlineProcessor
from stream.outbox import OutboxReader, OutboxWriter
from stream.outbox_retention import OutboxRetention

log = structlog.get_logger("fhir_evidence.pipeline_process")
HEALTH_FILE = "pipeline-health.json"
METRICS_FILE = "pipeline-metrics.prom"
PIPELINE_OUTBOX = "outbox-pipeline.sqlite"  # the pipeline's own events (rules changed)
DRAIN_TIMEOUT_S = 40.0


def outbox_name(index: int) -> str:
    """API process `index`'s outbox (index 0 keeps the single-process name)."""
    return "outbox.sqlite" if index == 0 else f"outbox-{index}.sqlite"


def outbox_paths(data_dir: Path) -> list[Path]:
    """Every outbox of the data dir: also those of API processes a smaller N no longer runs."""
    return sorted({data_dir / "outbox.sqlite", *data_dir.glob("outbox-*.sqlite")})


def store_authkey(settings: Settings) -> bytes:
    return derived_key(hash_key(settings), "store-bridge/v1")


def write_atomically(path: Path, text: str) -> None:
    """A reader never sees half a file."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    partial.replace(path)


def write_health(path: Path, failing: list[str]) -> None:
    write_atomically(path, json.dumps({"at": time.time(), "pid": os.getpid(), "failing": failing}))


def write_metrics(path: Path) -> None:
    """This process's metrics as Prometheus text (for the API processes' GET /metrics)."""
    write_atomically(path, generate_latest().decode())


def parent_watch(parent_pid: int, stop: Callable[[], None]) -> Callable[[], None]:
    """A beat that stops this process when the supervisor is gone (never left orphaned)."""

    def beat() -> None:
        if os.getppid() != parent_pid:
            stop()  # first: the log line below may have nowhere to go any more
            log.error("supervisor gone; stopping")

    return beat


class PipelineProcess:
    def __init__(self, settings: Settings, store_address: str, parent_pid: int) -> None:
        self.settings = settings
        self.store: EvidenceStore = open_evidence(settings)
        pseudonymizer = Pseudonymizer(hash_key(settings), HASH_KEY_VERSION)
        self.step, self.alerting = build_step(settings, self.store, pseudonymizer, "inline")
        own = settings.data_dir / PIPELINE_OUTBOX
        self.outbox = OutboxWriter(own, lambda e: evidence_payload(e, pseudonymizer),
                                   HASH_KEY_VERSION)  # fmt: skip
        self._outboxes = {*outbox_paths(settings.data_dir), own}
        self.fan_in = OutboxFanIn([self._processor(path) for path in self._outboxes], self.step,
                                  discover=self._new_outboxes)  # fmt: skip
        signer = checkpoint_signer(settings)
        self.checkpoints = build_checkpoint_runner(settings, self.store, signer)
        self.server = StoreServer(self.store, store_address, store_authkey(settings))
        self.stopped = threading.Event()
        self.pipeline = self._health(parent_pid)

    def _processor(self, path: Path) -> InlineProcessor:
        processor = InlineProcessor(OutboxReader(path, "inline-processor"), self.step,
                                    never_notified)  # fmt: skip
        processor.retention = OutboxRetention(path, self.settings.outbox_retention_s)
        return processor

    def _new_outboxes(self) -> list[InlineProcessor]:
        """Processors of the outboxes that appeared in the data dir since the last look."""
        found = []
        for path in sorted(set(outbox_paths(self.settings.data_dir)) - self._outboxes):
            try:
                found.append(self._processor(path))
            except Exception:  # being created, say: looked at again next time
                log.warning("outbox not taken on yet", outbox=path.name, exc_info=True)
                continue
            self._outboxes.add(path)
        return found

    def _health(self, parent_pid: int) -> PipelineHealth:
        ph = PipelineHealth(Health())
        health = ph.health
        health.add("fhir_store", fhir_store_probe(self.settings, ph.closers))
        health.add("workers", lambda: self.fan_in.running)
        health.add("evidence_store", lambda: not self.step.paused)
        ph.tasks += [Supervised("outbox-fan-in", self.fan_in),
                     Supervised("checkpointer", self.checkpoints)]  # fmt: skip
        if self.alerting.deliverer.enabled:
            ph.tasks.append(Supervised("webhook-deliverer", self.alerting.deliverer))
        raiser = alert_raiser(self.alerting.detector, self.store)
        ph.beats.append(stall_watch("outbox", self.fan_in.lag, raiser, self.settings).beat)
        path = self.settings.data_dir / HEALTH_FILE
        ph.beats.append(lambda: write_health(path, health.failing()))
        # the levels of this process: its own outbox, and what the fan-in has yet to take
        bind_levels(lambda: self.outbox.last_sequence, self.fan_in.lag)
        ph.beats.append(lambda: write_metrics(self.settings.data_dir / METRICS_FILE))
        ph.beats.append(parent_watch(parent_pid, self.stopped.set))
        return ph

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopped.set())
        self.server.start()
        self.alerting.start()
        self.fan_in.start()
        self.checkpoints.start()
        self.pipeline.start(lambda _code: self.stopped.set())
        asyncio.run(_announce(self.alerting, self.outbox))
        log.info("pipeline process running", outboxes=len(self.fan_in.processors))
        self.stopped.wait()
        return self.stop()

    def stop(self) -> int:
        self.pipeline.stop()  # first: the tasks' ending below is no failure
        drained = self.fan_in.drain(DRAIN_TIMEOUT_S)
        self.fan_in.stop()
        self.checkpoints.stop()  # one last pass seals what was just drained
        self.alerting.stop()
        self.server.stop()
        self.outbox.close()
        self.store.close()
        for name in (HEALTH_FILE, METRICS_FILE):
            (self.settings.data_dir / name).unlink(missing_ok=True)
        log.info("pipeline process stopped", drained=drained, processed=self.fan_in.processed)
        return self.pipeline.exit_code or 0


async def _announce(alerting: Alerting, outbox: OutboxWriter) -> None:
    """The detection rules in force, when they changed (as the single process does)."""
    from api.boot.runtime import rules_changed_event

    detector = alerting.detector
    if detector.rules_changed:
        await outbox.append(rules_changed_event(detector.fingerprint, time.time_ns() // 1000))
        detector.rules_recorded()
