"""Composition of pipeline health: the readiness checks of a process (stream.health), the
watchdog over its tasks (stream.supervision) and its stall watches (pipeline_stalled).

Which check a process has follows its role: `serve` without Kafka (fhir_store, outbox,
workers = the inline processor, evidence_store), `serve --role api` (fhir_store, outbox,
kafka, relay, evidence_store), `serve --role all` with Kafka (all six), `worker` (fhir_store,
kafka, workers, evidence_store).
"""

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from api.boot.stores import open_fhir_data
from api.settings import Settings
from evidence.store import EvidenceStore
from stream.alerting.detector import Detector, alert_row
from stream.alerting.stall_watch import StallWatch
from stream.detection import Alert
from stream.health import Health, Probe
from stream.supervision import Policy, Watchdog

log = structlog.get_logger("fhir_evidence.health")
EXIT_CONFIG, EXIT_SOFTWARE = 78, 70  # sysexits: a configuration error, an internal failure
HARD_EXIT_AFTER_S = 45.0  # a graceful shutdown after a fatal error that hangs is cut short


@dataclass
class Supervised:
    """A component of the pipeline as a watchdog task (it has running, start, maybe fatal)."""

    name: str
    component: Any
    policy: Policy = Policy.RESTART

    @property
    def running(self) -> bool:
        """Running, or deliberately stopped (then its end is no failure)."""
        return bool(self.component.running or self.component.stopping)

    @property
    def fatal(self) -> BaseException | None:
        found: BaseException | None = getattr(self.component, "fatal", None)
        return found

    def start(self) -> None:
        self.component.start()


@dataclass
class PipelineHealth:
    health: Health
    tasks: list[Supervised] = field(default_factory=list)
    beats: list[Callable[[], None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    watchdog: Watchdog | None = None
    exit_code: int | None = None

    def start(self, on_fatal: Callable[[int], None]) -> None:
        def fatal(task: str, error: BaseException | None) -> None:
            from stream.kafka.admin import TopologyMismatch

            code = EXIT_CONFIG if isinstance(error, TopologyMismatch) else EXIT_SOFTWARE
            self.exit_code = code
            on_fatal(code)

        self.watchdog = Watchdog(self.tasks, fatal, self.health, self.beats)
        self.health.refresh_probes()
        self.watchdog.start()

    def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        for close in self.closers:
            try:
                close()
            except Exception:
                log.debug("health probe close failed", exc_info=True)


def fhir_store_probe(settings: Settings, closers: list[Callable[[], None]]) -> Probe:
    """A handle of its own on the FHIR data, asked on the watchdog's thread."""
    handle: list[Any] = []

    def ask() -> object:
        if not handle:
            handle.append(open_fhir_data(settings))
            closers.append(handle[0].close)
        return handle[0].is_empty() in (True, False)

    return Probe("fhir_store", ask)


def evidence_store_probe(store: EvidenceStore) -> Probe:
    return Probe("evidence_store", lambda: store.select("SELECT 1 AS ok", {}))


def alert_raiser(detector: Detector | None, store: EvidenceStore) -> Callable[[Alert], None]:
    """Through the detector (webhook and alerts topic, then the store) where this process
    runs one; otherwise (`serve --role api`) into the store, where the auditor API finds it."""
    if detector is not None:
        return detector.raise_system
    return lambda alert: store.upsert_alerts([alert_row(alert)])


def terminate_process(code: int) -> None:
    """A fatal pipeline failure where no server can be asked to stop: SIGTERM to itself,
    cut short with `code` if the shutdown hangs."""
    _hard_exit_later(code)
    os.kill(os.getpid(), signal.SIGTERM)


def stop_server(server: Any, hard_exit_after_s: float | None = HARD_EXIT_AFTER_S)\
        -> Callable[[int], None]:  # fmt: skip
    """A fatal pipeline failure in `serve`: ask uvicorn to shut down gracefully (no signal:
    uvicorn would re-raise it, and the process would end by the signal, not the code); the
    CLI then exits with the code. Cut short after `hard_exit_after_s` if the shutdown hangs
    (None: never, for tests)."""

    def fatal(code: int) -> None:
        if hard_exit_after_s is not None:
            _hard_exit_later(code, hard_exit_after_s)
        server.should_exit = True

    return fatal


def _hard_exit_later(code: int, after_s: float = HARD_EXIT_AFTER_S) -> None:
    timer = threading.Timer(after_s, os._exit, (code,))
    timer.daemon = True
    timer.start()


def stall_watch(source: str, read: Callable[[], int | None], raiser: Callable[[Alert], None],
                settings: Settings) -> StallWatch:  # fmt: skip
    return StallWatch(source, read, raiser, settings.pipeline_stall_s)


def serve_health(runtime: Any, settings: Settings) -> PipelineHealth:
    """The checks, tasks and stall watch of a `serve` process (a Runtime)."""
    ph = PipelineHealth(Health())
    health, outbox = ph.health, runtime.outbox
    health.add("fhir_store", fhir_store_probe(settings, ph.closers))
    health.add("outbox", lambda: outbox.writable)
    relay, workers, processor = runtime.relay, runtime.workers, runtime.processor
    if relay is not None:
        health.add("kafka", lambda: relay.connected and relay.broker_ok)
        health.add("relay", lambda: relay.running and relay.fatal is None)
        ph.tasks.append(Supervised("relay", relay))
    if workers is not None:
        health.add("kafka", lambda: workers.heartbeat is None or workers.heartbeat.ok)
        health.add("workers", lambda: workers.running and workers.started.is_set())
        health.add("evidence_store", lambda: not workers.step.paused)
        ph.tasks.append(Supervised("workers", workers))
    if processor is not None:
        health.add("workers", lambda: processor.running)
        health.add("evidence_store", lambda: not processor.step.paused)
        ph.tasks.append(Supervised("inline-processor", processor))
    if workers is None and processor is None:
        health.add("evidence_store", evidence_store_probe(runtime.store))
    if runtime.checkpoints is not None:
        ph.tasks.append(Supervised("checkpointer", runtime.checkpoints))
    alerting = runtime.alerting
    if alerting is not None and alerting.deliverer.enabled:
        ph.tasks.append(Supervised("webhook-deliverer", alerting.deliverer))
    raiser = alert_raiser(alerting.detector if alerting else None, runtime.store)
    if relay is not None or processor is not None:
        ph.beats.append(stall_watch("outbox", runtime.pipeline_lag, raiser, settings).beat)
    if workers is not None and workers.lag_monitor is not None:
        monitor = workers.lag_monitor
        ph.beats.append(stall_watch("consumer", lambda: monitor.total, raiser, settings).beat)
    return ph


def worker_health(host: Any, alerting: Any, store: EvidenceStore, settings: Settings)\
        -> PipelineHealth:  # fmt: skip
    """The checks, tasks and stall watch of `fhir-evidence worker` (the host runs in the
    foreground: its fatal end is handled by run_worker, not the watchdog)."""
    ph = PipelineHealth(Health())
    health = ph.health
    health.add("fhir_store", fhir_store_probe(settings, ph.closers))
    health.add("kafka", lambda: host.heartbeat is None or host.heartbeat.ok)
    health.add("workers", lambda: host.started.is_set())
    health.add("evidence_store", lambda: not host.step.paused)
    if alerting.deliverer.enabled:
        ph.tasks.append(Supervised("webhook-deliverer", alerting.deliverer))
    if host.lag_monitor is not None:
        monitor = host.lag_monitor
        raiser = alert_raiser(alerting.detector, store)
        ph.beats.append(stall_watch("consumer", lambda: monitor.total, raiser, settings).beat)
    return ph
