"""Building blocks of the Kafka tests: an outbox with recorded events, a relay and in-process
stream workers on topics and a consumer group of the test's own."""

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from evidence.core import AccessEvent
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from stream.kafka.agents import AlertOutbox
from stream.kafka.app import WorkerConfig, WorkerHost, build_faust_app
from stream.kafka.relay import OutboxRelay, kafka_relay
from stream.outbox import OutboxReader, OutboxWriter
from stream.step import EvidenceStep
from tests.evidence.builders import KEY, PSEUDONYMIZER, make_event

HOUR_US = 3_600_000_000
BASE_US = int(time.time()) // 3600 * HOUR_US - 2 * HOUR_US  # recent: inside the TTL


def recorded_event(n: int) -> AccessEvent:
    subs = ("dr-alice", "dr-bob", "dr-carol", "svc-etl", "dr-dave")
    return make_event(n, ts_us=BASE_US + n * 1000, sub=subs[n % len(subs)],
                      patient_ids=(f"p{n % 97}",))  # fmt: skip


def new_config(bootstrap: str, partitions: int = 3) -> WorkerConfig:
    tag = uuid.uuid4().hex[:8]
    return WorkerConfig(bootstrap, partitions, app_id=f"test-{tag}", topic_prefix=f"t{tag}.")


def open_writer(path: Path) -> OutboxWriter:
    return OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), key_version=1)


def append(writer: OutboxWriter, numbers: range) -> None:
    async def run() -> None:
        await asyncio.gather(*(writer.append(recorded_event(n)) for n in numbers))

    asyncio.run(run())


@dataclass
class Pipeline:
    """Relay + workers of one test; `stop()` in a finally."""

    config: WorkerConfig
    store: EvidenceStore
    outbox: Path
    writer: OutboxWriter
    relay: OutboxRelay | None = None
    host: WorkerHost | None = None
    step: EvidenceStep | None = None
    alerts: AlertOutbox = field(default_factory=AlertOutbox)

    def start_workers(self, step: EvidenceStep | None = None) -> WorkerHost:
        """The agent driving `step` (default: the step without detection)."""
        self.step = run = step or EvidenceStep(self.store, {1}, "kafka", max_backoff_s=0.5)
        self.host = WorkerHost(
            self.config, lambda: build_faust_app(self.config, run, self.alerts), run
        )
        self.host.start()
        if not self.host.started.wait(60):
            raise RuntimeError("stream workers did not start")
        return self.host

    def start_relay(self) -> OutboxRelay:
        reader = OutboxReader(self.outbox, "relay")
        self.relay = kafka_relay(reader, self.writer.wait_for_commit, self.config.bootstrap,
                                 self.config.names, self.config.partitions)  # fmt: skip
        self.relay.start()
        return self.relay

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.host is not None:
            self.host.stop()


def stored_counts(store: EvidenceStore) -> tuple[int, int, int]:
    """(rows as inserted, rows a query sees (FINAL), distinct event ids)."""
    db = store._db
    raw = store.raw_command(f"SELECT count() FROM {db}.access_events")
    final = store.raw_command(f"SELECT count() FROM {db}.access_events FINAL")
    distinct = store.raw_command(f"SELECT uniqExact(event_id) FROM {db}.access_events")
    return int(raw), int(final), int(distinct)


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def consume_all(bootstrap: str, topic: str, expect: int, timeout: float = 30.0) -> list[Any]:
    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", group_id=None)  # fmt: skip
        await consumer.start()
        found: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                found.extend(m for records in batch.values() for m in records)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(run())


def in_thread(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def group_caught_up(bootstrap: str, group: str, topics: list[str]) -> bool:
    """True when the consumer group has committed offsets at the end of every partition."""

    async def run() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            described = await admin.describe_topics(topics)
            partitions = [TopicPartition(t["topic"], p["partition"])
                          for t in described for p in t["partitions"]]  # fmt: skip
            ends = await consumer.end_offsets(partitions)
            return len(partitions) > 0 and all(
                end == 0 or (tp in committed and committed[tp].offset >= end)
                for tp, end in ends.items()
            )
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(run())


def worker_env(
    bootstrap: str, config: WorkerConfig, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a `fhir-evidence worker` process on this broker and topology."""
    env = dict(os.environ)
    env.update(
        FHIR_EVIDENCE_DATA_DIR=str(data_dir),
        FHIR_EVIDENCE_KAFKA_BOOTSTRAP=bootstrap,
        FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX=config.topic_prefix,
        FHIR_EVIDENCE_KAFKA_GROUP=config.app_id,
        FHIR_EVIDENCE_KAFKA_PARTITIONS=str(config.partitions),
        FHIR_EVIDENCE_HASH_KEY=KEY.decode(),
        FHIR_EVIDENCE_LOG_LEVEL="INFO",
        **extra,
    )
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`fhir-evidence worker` as a child process, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "api.boot.cli", "worker"], env=env,
                                stdout=out, stderr=out)  # fmt: skip


def log_says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")
