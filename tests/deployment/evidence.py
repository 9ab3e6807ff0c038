"""What the fault tests check: every answered request has its evidence exactly once.

Each worker owns a chDB store in its data dir (chDB has one owner per path and this
machine has no ClickHouse server), so evidence is read from each worker's store after the
workers stopped, and judged over all of them: `judge` is pure. While the deployment runs,
`wait_recovered` measures when evidence is complete by what the pipeline acknowledges:
every replica's relay has the outbox's events acknowledged by Kafka, and the consumer group
has committed past them (the workers commit only after the batch is in the store)."""

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.deployment.harness import Deployment

StoredRow = tuple[str, str, int]  # (request id, event id, rows a FINAL query shows)
READ_SCRIPT = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
rows = client.query("SELECT request_id, event_id, count() FROM evidence.access_events FINAL "
                    "GROUP BY request_id, event_id").result_rows
print(json.dumps([list(r) for r in rows]))
"""


@dataclass(frozen=True)
class Verdict:
    missing: list[str]  # answered request ids with no evidence anywhere
    duplicated: list[str]  # request ids shown more than once (a store, or two event ids)
    redelivered: int  # events stored by two workers (a batch taken over before its commit)

    @property
    def exact(self) -> bool:
        return not self.missing and not self.duplicated


def judge(answered: Iterable[str], stores: Mapping[str, list[StoredRow]]) -> Verdict:
    """Every answered request must have one event, shown once by the store that holds it.
    An event in two workers' stores (the same event id) is a redelivery, which one shared
    ClickHouse server shows once (ReplacingMergeTree on the event id, queried with FINAL);
    a request with two event ids, or a store showing an event twice, is a duplicate."""
    events: dict[str, set[str]] = {}
    holders: Counter[str] = Counter()
    duplicated: set[str] = set()
    for rows in stores.values():
        for request_id, event_id, count in rows:
            events.setdefault(request_id, set()).add(event_id)
            holders[event_id] += 1
            if count != 1:
                duplicated.add(request_id)
    duplicated |= {r for r, ids in events.items() if len(ids) > 1}
    wanted = set(answered)
    missing = sorted(wanted - events.keys())
    return Verdict(missing, sorted(duplicated & wanted), sum(n > 1 for n in holders.values()))


def read_store(data_dir: Path) -> list[StoredRow]:
    """The evidence of a stopped worker's chDB store (in a child process: one chDB engine
    path per process, and the test process may hold another)."""
    path = str((data_dir / "evidence").resolve())
    out = subprocess.run([sys.executable, "-c", READ_SCRIPT, path],
                         capture_output=True, check=True, timeout=120)  # fmt: skip
    return [(str(r), str(e), int(n)) for r, e, n in json.loads(out.stdout)]


PRODUCERS_SCRIPT = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
rows = client.query("SELECT DISTINCT request_id, producer_id FROM evidence.access_events FINAL")
print(json.dumps([list(r) for r in rows.result_rows]))
"""


def read_producers(data_dir: Path) -> dict[str, str]:
    """{request id: producer id} of a stopped worker's chDB store (see read_store)."""
    path = str((data_dir / "evidence").resolve())
    out = subprocess.run([sys.executable, "-c", PRODUCERS_SCRIPT, path],
                         capture_output=True, check=True, timeout=120)  # fmt: skip
    return {str(r): str(p) for r, p in json.loads(out.stdout)}


def check_evidence(deployment: Deployment, answered: Iterable[str]) -> Verdict:
    """Stop the deployment (replicas drain their relays, workers their batches), then judge
    the evidence of every worker's store."""
    deployment.stop()
    stores = {w.name: read_store(w.data_dir) for w in deployment.workers}
    return judge(answered, stores)


def _kafka(work: Any) -> Any:
    return asyncio.run(work)


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        (described,) = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: end for tp, end in ends.items()}
    finally:
        await _quietly(consumer.stop())
        await admin.close()


async def _quietly(stopping: Any) -> None:
    """aiokafka's consumer may raise CancelledError from its own stop: it is stopped."""
    with contextlib.suppress(asyncio.CancelledError):
        await stopping


async def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    finally:
        await admin.close()


def _poll(done: Any, deadline: float, what: str) -> None:
    while True:
        with contextlib.suppress(Exception):  # a broker still coming back: ask again
            if done():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.25)


def wait_recovered(deployment: Deployment, timeout: float = 60.0) -> float:
    """Seconds until every event the replicas had logged when this was called is in the
    evidence store: relayed (acknowledged by Kafka), then committed by the consumer group."""
    began = time.monotonic()
    deadline = began + timeout
    live = [p for p in deployment.apis if p.data_dir.exists()]
    targets = {(p.name, f): p.outbox_progress(f)[0] for p in live for f in p.outbox_files()}
    by_name = deployment.procs

    def relayed() -> bool:
        return all(by_name[n].outbox_progress(f)[1] >= t for (n, f), t in targets.items())

    _poll(relayed, deadline, f"outboxes not relayed within {timeout:.0f}s: {targets}")
    raw = f"{deployment.topic_prefix}fhir.access.raw"
    ends: dict[int, int] = {}

    def read_ends() -> bool:
        ends.update(_kafka(_end_offsets(deployment.bootstrap, raw)))
        return bool(ends)

    _poll(read_ends, deadline, "end offsets of the raw topic not readable")

    def committed() -> bool:
        done = _kafka(_committed(deployment.bootstrap, deployment.group, raw))
        return all(end == 0 or done.get(p, -1) >= end for p, end in ends.items())

    _poll(committed, deadline, f"consumer group not past {ends} within {timeout:.0f}s")
    return time.monotonic() - began


async def _messages(bootstrap: str, topic: str, wait_s: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            found.extend(orjson.loads(m.value) for ms in batch.values() for m in ms)
            ends = await consumer.end_offsets(list(consumer.assignment()))
            if ends and all(await _at_end(consumer, ends)):
                break
    finally:
        await _quietly(consumer.stop())
    return found


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[bool]:
    return [await consumer.position(tp) >= end for tp, end in ends.items()]


def topic_messages(deployment: Deployment, name: str, wait_s: float = 10.0) -> list[Any]:
    """Every message of one of the deployment's topics (e.g. "fhir.alerts"), as JSON."""
    topic = f"{deployment.topic_prefix}{name}"
    return list(_kafka(_messages(deployment.bootstrap, topic, wait_s)))


def wait_alert(deployment: Deployment, kind: str, principal: str, timeout: float = 30.0) -> Any:
    """The first alert of `kind` about `principal` published on the alerts topic."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for alert in topic_messages(deployment, "fhir.alerts", 5.0):
            if alert.get("kind") == kind and alert.get("principal") == principal:
                return alert
        time.sleep(1.0)
    raise TimeoutError(f"no {kind} alert about {principal} within {timeout:.0f}s")
