"""The faust-streaming worker: the app, its topics and the agent that drives the stream step,
hosted on a thread of its own (`serve` runs it beside the API) or in the foreground
(`fhir-evidence worker`)."""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import structlog

from stream.heap import settle_heap
from stream.kafka.admin import KafkaUnavailable, TopologyMismatch, ensure_topics
from stream.kafka.agents import AlertOutbox, crash_exit, register_agent
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
    on_crash: Callable[[BaseException], None] = crash_exit,
    heartbeat: "BrokerHeartbeat | None" = None,
    lag_monitor: LagMonitor | None = None,
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
    register_agent(app, topics, step, alerts, on_crash)
    for interval, work in timers:
        _register_timer(app, interval, work)
    _register_lag_monitor(app, config, lag_monitor or LagMonitor((config.names.raw,)))
    if heartbeat is not None:
        app.timer(heartbeat.interval_s)(heartbeat.beat)
        app.on_before_shutdown.connect(heartbeat.close_on_shutdown, weak=False)
    return app


class BrokerHeartbeat:
    """`ok` says whether the broker answered the last metadata request (all topics':
    names none, so creates none), asked every `interval_s` on the worker's loop."""

    def __init__(self, bootstrap: str, interval_s: float = 2.0, timeout_s: float = 5.0) -> None:
        self._bootstrap, self.interval_s, self._timeout_s = bootstrap, interval_s, timeout_s
        self._client: Any = None
        self.ok = True

    async def beat(self) -> None:
        from aiokafka import AIOKafkaClient

        try:
            if self._client is None:
                timeout_ms = int(self._timeout_s * 1000)
                self._client = AIOKafkaClient(
                    bootstrap_servers=self._bootstrap, request_timeout_ms=timeout_ms
                )
                await asyncio.wait_for(self._client.bootstrap(), self._timeout_s)
            await asyncio.wait_for(self._client.fetch_all_metadata(), self._timeout_s)
            self.ok = True
        except Exception as exc:
            if self.ok:
                log.warning("kafka broker not answering", error=type(exc).__name__)
            self.ok = False
            await self._close()

    async def close_on_shutdown(self, *_: Any, **__: Any) -> None:
        await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


def _register_lag_monitor(app: faust.App, config: WorkerConfig, monitor: LagMonitor) -> None:
    """Consumer lag of the partitions this worker consumes, on every worker (not only the
    leader); its series go when the worker stops."""

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
    """Runs the faust app on its own event loop: on a thread (`start`/`stop`, supervised by
    the watchdog: `running`, `fatal`) or in the foreground until a stop is requested (`run`,
    which raises what ended it). Topic set-up is retried with back-off while Kafka cannot
    be reached; a topic of the wrong shape (TopologyMismatch) or a crashed agent is fatal."""

    def __init__(self, config: WorkerConfig, make_app: Callable[[], faust.App],
                 step: EvidenceStep, heartbeat: BrokerHeartbeat | None = None,
                 lag_monitor: LagMonitor | None = None) -> None:  # fmt: skip
        self._config, self._make_app, self.step = config, make_app, step
        self.heartbeat, self.lag_monitor = heartbeat, lag_monitor
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.started = threading.Event()
        self.app: Any = None
        self.fatal: BaseException | None = None
        self.stopping = False  # stop() was called: the thread ending is no failure

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def crashed(self, exc: BaseException) -> None:
        """A pipeline task beside the workers cannot go on: stop them with `fatal` set.
        Never an agent's `on_crash`: this stop is graceful and would commit the batch."""
        self.fatal = exc
        self.request_stop()

    async def _topics_ready(self, stopping: asyncio.Event) -> bool:
        specs = topology(self._config.partitions, names=self._config.names)
        backoff = 0.5
        while not stopping.is_set():
            try:
                await ensure_topics(self._config.bootstrap, specs)
                return True
            except KafkaUnavailable as exc:
                log.warning("kafka not reachable for topic set-up; retrying",
                            error=str(exc), backoff_s=backoff)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), backoff)
            backoff = min(backoff * 2, 10.0)
        return False

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        if not await self._topics_ready(stopping):
            return
        self.app = self._make_app()
        await self.app.start()
        settle_heap()  # the long-lived objects exist now (stream.heap)
        self.started.set()
        log.info("stream workers running", bootstrap=self._config.bootstrap)
        try:
            await stopping.wait()
        finally:
            self.started.clear()
            await self.app.stop()
            log.info("stream workers stopped", stored=self.step.stored)

    def run(self) -> None:
        """In the foreground: raises TopologyMismatch, or the agent's crash, when fatal."""
        asyncio.run(self._main())
        if self.fatal is not None:
            raise self.fatal

    def _run_thread(self) -> None:
        try:
            self.run()
        except TopologyMismatch as exc:
            self.fatal = exc
            log.critical("stream workers cannot run: Kafka topics of the wrong shape",
                         error=str(exc))  # fmt: skip
        except BaseException:
            log.exception("stream workers ended")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_thread, name="stream-workers",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def request_stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._stopping.set)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping = True
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.step.stop()
