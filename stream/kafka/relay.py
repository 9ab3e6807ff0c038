"""The outbox relay: outbox rows → Kafka `fhir.access.raw`, in order, at least once.

A row's position is committed only after the broker acknowledged it (idempotent producer,
acks=all). While Kafka is down the API keeps serving, the outbox grows and the relay retries
with back-off, then catches up; a retry after an unacknowledged send may publish a row twice,
which the sink's event-id idempotence hides. Runs on its own thread and event loop so it never
competes with request handling on the API's loop.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from stream.kafka.admin import TopologyMismatch
from stream.kafka.messages import encode_raw, principal_runs
from stream.kafka.topology import RAW_TOPIC, TopicNames, topology
from stream.metrics import RELAY_LAG
from stream.outbox import OutboxReader
from stream.outbox_retention import OutboxRetention

log = structlog.get_logger("fhir_evidence.relay")
OUTBOX_KEEP = 50_000
HEARTBEAT_S = 2.0  # while idle, the broker is asked this often whether it still answers
WaitForCommit = Callable[[int, float], bool]
Heartbeat = Callable[[Any], Awaitable[object]]  # one cheap request through the producer


class Producer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, topic: str, value: bytes, key: bytes) -> Awaitable[Any]: ...


ProducerFactory = Callable[[], Producer]


def kafka_producer_factory(bootstrap: str) -> ProducerFactory:
    def build() -> Producer:
        from aiokafka import AIOKafkaProducer

        producer: Producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            compression_type="lz4",
            linger_ms=5,
            max_batch_size=512 * 1024,
            request_timeout_ms=15_000,
            client_id="fhir-evidence-relay",
        )
        return producer

    return build


def kafka_relay(
    reader: OutboxReader,
    wait_for_commit: WaitForCommit,
    bootstrap: str,
    names: TopicNames,
    partitions: int,
    batch_size: int = 1000,
) -> "OutboxRelay":
    """The relay to a real broker: aiokafka producer, topics created on every connect."""
    from stream.kafka.admin import ensure_topics

    specs = topology(partitions, names=names)

    async def create_topics() -> None:
        await ensure_topics(bootstrap, specs)

    async def heartbeat(producer: Any) -> None:  # all topics' metadata: names none, creates none
        await asyncio.wait_for(producer.client.fetch_all_metadata(), 5.0)

    return OutboxRelay(reader, kafka_producer_factory(bootstrap), wait_for_commit,
                       batch_size=batch_size, topic=names.raw, prepare=create_topics,
                       heartbeat=heartbeat)  # fmt: skip


class OutboxRelay:
    def __init__(
        self,
        reader: OutboxReader,
        producer_factory: ProducerFactory,
        wait_for_commit: WaitForCommit,
        batch_size: int = 1000,
        topic: str = RAW_TOPIC,
        prepare: Callable[[], Awaitable[object]] | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        """`prepare` runs before publishing on every (re)connect: topic creation (a topic
        of the wrong shape ends the relay with `fatal` set). `heartbeat` runs beside the
        publishing, every HEARTBEAT_S, so `broker_ok` turns False soon after the broker goes
        away even while a send waits for its acknowledgement (up to the request timeout)."""
        self._reader, self._factory, self._wait = reader, producer_factory, wait_for_commit
        self._prepare, self._heartbeat = prepare, heartbeat
        self.fatal: BaseException | None = None
        self._batch_size, self._topic = batch_size, topic
        self._position = reader.position()
        self._pruned_below = 0
        self.retention: OutboxRetention | None = None  # confirmed rows purged after it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.connected = False
        self.broker_ok = True  # the last heartbeat was answered (readiness: `kafka`)

    @property
    def position(self) -> int:
        return self._position

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Asked to stop: its thread ending is no failure."""
        return self._stop.is_set()

    def lag(self) -> int:
        return max(0, self._reader.last_sequence() - self._position)

    async def publish_available(self, producer: Producer) -> int:
        """Publish one batch and wait for every acknowledgement; returns rows published."""
        if self.retention is not None:  # idle or not: acknowledged rows do not stay
            self.retention.maybe_purge()
        rows = self._reader.read_after(self._position, self._batch_size)
        if not rows:
            return 0
        producer_id = self._reader.producer_id
        pending = [
            await producer.send(self._topic, encode_raw(run, producer_id), key)
            for key, run in principal_runs(rows)
        ]
        await asyncio.gather(*pending)
        self._reader.commit_position(rows[-1].sequence)
        self._position = rows[-1].sequence
        self.published += len(rows)
        if self._position - self._pruned_below >= 2 * OUTBOX_KEEP:
            self._pruned_below = self._reader.prune_below(self._position - OUTBOX_KEEP)
        return len(rows)

    async def run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            producer = self._factory()
            try:
                if self._prepare is not None:
                    await self._prepare()
                await producer.start()
                self.connected, self.broker_ok, backoff = True, True, 0.2
                log.info("relay connected", position=self._position)
                await self._pump(producer)
            except TopologyMismatch as exc:  # fatal: retrying cannot fix a topic's shape
                self.connected, self.fatal = False, exc
                log.critical("relay cannot run: Kafka topics of the wrong shape", error=str(exc))
                return
            except Exception as exc:  # broker down or gone: back off, then resend from the
                self.connected = False  # last acknowledged position
                log.warning("relay cannot publish; retrying", error=type(exc).__name__,
                            backoff_s=backoff, lag=self.lag())  # fmt: skip
            finally:
                await _quietly_stop(producer)
            await asyncio.to_thread(self._stop.wait, backoff)
            backoff = min(backoff * 2, 5.0)

    async def _pump(self, producer: Producer) -> None:
        beats = asyncio.ensure_future(self._beats(producer))
        try:
            while not self._stop.is_set():
                if beats.done():  # the broker stopped answering: reconnect
                    beats.result()
                done = await self.publish_available(producer)
                RELAY_LAG.set(self.lag())
                if done < self._batch_size:
                    await asyncio.to_thread(self._wait, self._position, 0.2)
        finally:
            beats.cancel()

    async def _beats(self, producer: Producer) -> None:
        """Every HEARTBEAT_S: raises (ending the connection) once the broker does not answer."""
        if self._heartbeat is None:
            await asyncio.Event().wait()
            return
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._heartbeat(producer)
            except Exception:
                self.broker_ok = False
                raise
            self.broker_ok = True

    def start(self) -> None:
        """Start the relay's thread (again, after it ended: the watchdog restarts it)."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()),
                                        name="outbox-relay", daemon=True)  # fmt: skip
        self._thread.start()

    def drain(self, timeout: float) -> bool:
        """Wait until everything in the outbox is acknowledged (shutdown); True if so."""
        deadline = time.monotonic() + timeout
        while self.lag() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.lag() == 0

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


async def _quietly_stop(producer: Producer) -> None:
    try:
        await producer.stop()
    except Exception:
        log.debug("producer stop failed", exc_info=True)
