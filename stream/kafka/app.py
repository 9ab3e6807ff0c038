"""The faust-streaming worker: the app, its topics and the agent that drives the stream step,
hosted on a thread of its own (`serve` runs it beside the API) or in the foreground
(`fhir-evidence worker`)."""

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import structlog

from stream.kafka.admin import ensure_topics
from stream.kafka.agents import AlertOutbox, register_agent
from stream.kafka.lag import LagMonitor
from stream.kafka.topology import TopicNames, topology
from stream.step import EvidenceStep

log = structlog.get_logger("fhir_evidence.worker")
APP_ID = "fhir-evidence"
Timer = tuple[float, Callable[[], None]]  # (interval_s, blocking work) run on the leader only


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str
    partitions: int = 6
    app_id: str = APP_ID  # the consumer group
    topic_prefix: str = ""
    lag_interval_s: float = 5.0  # how often each worker reads its consumer lag

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.topic_prefix)


def broker_urls(bootstrap: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def build_faust_app(
    config: WorkerConfig,
    step: EvidenceStep,
    alerts: AlertOutbox,
    timers: tuple[Timer, ...] = (),
) -> faust.App:
    app = faust.App(
        config.app_id,
        broker=broker_urls(config.bootstrap),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        topic_partitions=config.partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,  # a crashed worker's partitions move on within seconds
        broker_heartbeat_interval=2.0,
        producer_acks=-1,
        producer_compression_type="lz4",
        stream_wait_empty=False,
    )
    names = config.names
    topics = {
        "raw": app.topic(names.raw, partitions=config.partitions),
        "alerts": app.topic(names.alerts, partitions=config.partitions),
        "dead": app.topic(names.dead_letter, partitions=1),
    }
    register_agent(app, topics, step, alerts)
    for interval, work in timers:
        _register_timer(app, interval, work)
    _register_lag_monitor(app, config)
    return app


def _register_lag_monitor(app: faust.App, config: WorkerConfig) -> None:
    """Consumer lag of the partitions this worker consumes, on every worker (not only the
    leader); its series go when the worker stops."""
    monitor = LagMonitor((config.names.raw,))

    async def consumer_lag() -> None:
        await monitor.tick(app.consumer)

    async def clear(*_: Any, **__: Any) -> None:
        monitor.clear()

    app.timer(config.lag_interval_s)(consumer_lag)
    app.on_before_shutdown.connect(clear, weak=False)


def _register_timer(app: faust.App, interval: float, work: Callable[[], None]) -> None:
    async def tick() -> None:
        try:
            await asyncio.to_thread(work)
        except Exception:
            log.exception("worker timer failed", timer=getattr(work, "__name__", "timer"))

    tick.__name__ = f"timer_{getattr(work, '__name__', 'work')}"
    app.timer(interval, on_leader=True)(tick)


class WorkerHost:
    """Runs the faust app on its own event loop: on a thread (`start`/`stop`) or in the
    foreground until a stop is requested (`run`)."""

    def __init__(self, config: WorkerConfig, make_app: Callable[[], faust.App],
                 step: EvidenceStep) -> None:  # fmt: skip
        self._config, self._make_app, self._step = config, make_app, step
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.started = threading.Event()
        self.app: Any = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        specs = topology(self._config.partitions, names=self._config.names)
        await ensure_topics(self._config.bootstrap, specs)
        self.app = self._make_app()
        await self.app.start()
        self.started.set()
        log.info("stream workers running", bootstrap=self._config.bootstrap)
        try:
            await self._stopping.wait()
        finally:
            await self.app.stop()
            log.info("stream workers stopped", stored=self._step.stored)

    def run(self) -> None:
        asyncio.run(self._main())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="stream-workers", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def stop(self, timeout: float = 30.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._step.stop()
