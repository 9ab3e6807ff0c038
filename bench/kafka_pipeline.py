"""Distributed pipeline throughput and lag, on a real broker.

1. relay:    N sealed outbox events → `fhir.access.raw` (idempotent producer, acks=all)
2. ceiling:  a bare aiokafka consume loop over that raw topic (no work): the local ceiling
3. worker:   the faust agent running the stream step (seal check → store; enrichment and
             detection off) on the raw topic into a chDB store, timed from start until all
             N are queryable, and again from its first stored batch (the group joined); its
             CPU time per event (the process's, every thread's: what an event costs
             whatever else the machine runs); ratio = worker / ceiling
4. lag:      a steady 1,000 events/s through relay + worker for 20 s; lag = time the store
             recorded the row minus the event's time, p50/p99

Uses $KAFKA_BOOTSTRAP, else starts a broker from the Maven jars (scripts/kafka.sh).
Goal (issue 19): ≥ 30,000 events/s per worker process, ratio ≥ 0.05, p99 lag < 1 s.
`.venv/bin/python -m bench.kafka_pipeline [--events 100000]`
"""

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import clickhouse_connect
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.events import BENCH_PSEUDONYMIZER as PSEUDONYMIZER
from bench.events import search_event
from bench.harness import ROOT, percentile
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from stream.kafka.agents import AlertOutbox
from stream.kafka.app import WorkerConfig, WorkerHost, build_faust_app
from stream.kafka.relay import kafka_relay
from stream.outbox import OutboxReader, OutboxWriter
from stream.step import EvidenceStep


def _append(writer: OutboxWriter, start: int, count: int, now_us: int | None = None) -> None:
    async def run() -> None:
        ts = now_us or int(time.time() * 1_000_000)
        subs = [f"dr-{i}" for i in range(50)]
        await asyncio.gather(*(
            writer.append(search_event(n, ts, ts_us=ts, sub=subs[n % 50], event_id=uuid.uuid4().hex,
                                     patient_ids=(f"p{n % 997}",)))
            for n in range(start, start + count)
        ))  # fmt: skip

    asyncio.run(run())


def _count(store: EvidenceStore) -> int:
    return int(store.raw_command(f"SELECT count() FROM {store._db}.access_events FINAL"))


def _bare_consume(
    bootstrap: str, topic: str, events: int, decode: bool = False
) -> tuple[float, float]:
    """Events/s and CPU µs per event of a consume loop that does nothing with the messages
    (each a run), or that only parses them (`decode`)."""

    async def run() -> tuple[float, float]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        try:
            while not consumer.partitions_for_topic(topic):
                await asyncio.sleep(0.05)  # metadata of the subscription not in yet
            numbers = sorted(consumer.partitions_for_topic(topic))
            partitions = [TopicPartition(topic, p) for p in numbers]
            expect = sum((await consumer.end_offsets(partitions)).values())
            seen, started, cpu = 0, time.perf_counter(), time.process_time()
            while seen < expect:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                seen += sum(len(records) for records in batch.values())
                if decode:
                    for records in batch.values():
                        for record in records:
                            orjson.loads(record.value)
            cpu_us = (time.process_time() - cpu) / events * 1e6
        finally:
            await consumer.stop()
        return events / (time.perf_counter() - started), cpu_us

    return asyncio.run(run())


def broker(state: Path) -> str:
    """$KAFKA_BOOTSTRAP, else a broker started from the Maven jars with its state in `state`
    (bench.evidence_lag uses it too; stop it with `stop_broker`)."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        return os.environ["KAFKA_BOOTSTRAP"]
    out = subprocess.run(["bash", str(ROOT / "scripts/kafka.sh"), "start", str(state)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def stop_broker(state: Path) -> None:
    """Stop the broker `broker` started (none when $KAFKA_BOOTSTRAP named one)."""
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        subprocess.run(["bash", str(ROOT / "scripts/kafka.sh"), "stop", str(state)],
                       check=False, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--lag-seconds", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    bootstrap = broker(work / "kafka")
    tag = uuid.uuid4().hex[:6]
    config = WorkerConfig(bootstrap, 6, app_id=f"bench-{tag}", topic_prefix=f"b{tag}.")
    client = clickhouse_connect.get_client(dsn=f"chdb://{work / 'chdb'}")
    store = EvidenceStore(client, "bench")
    store.apply_schema()
    writer = OutboxWriter(work / "outbox.sqlite", lambda e: evidence_payload(e, PSEUDONYMIZER), 1)
    n = args.events
    _append(writer, 0, n)
    relay = kafka_relay(OutboxReader(work / "outbox.sqlite", "relay"), writer.wait_for_commit,
                        bootstrap, config.names, 6, batch_size=5000)  # fmt: skip
    started = time.perf_counter()
    relay.start()
    while relay.lag() > 0:
        time.sleep(0.05)
    relay_rate = n / (time.perf_counter() - started)
    ceiling, ceiling_cpu = _bare_consume(bootstrap, config.names.raw, n)
    parsing, parsing_cpu = _bare_consume(bootstrap, config.names.raw, n, decode=True)
    step = EvidenceStep(store, {1}, "kafka")
    host = WorkerHost(config, lambda: build_faust_app(config, step, AlertOutbox()), step)
    started = time.perf_counter()
    host.start()
    # Polled with the step's own count: a count() ... FINAL query every 0.1 s would take the
    # store's lock from the worker (and its CPU), slowing what is measured.
    while (stored := step.stored) == 0:
        time.sleep(0.01)
    first, first_cpu = time.perf_counter(), time.process_time()  # the group has joined
    while step.stored < n:
        time.sleep(0.01)
    ended = time.perf_counter()
    assert _count(store) == n, "the worker stored other than the events sent"
    worker_rate, joined_rate = n / (ended - started), (n - stored) / (ended - first)
    worker_cpu = (time.process_time() - first_cpu) / (n - stored) * 1e6
    print(f"relay    outbox → Kafka            {relay_rate:>9.0f} events/s")
    print(f"ceiling  bare aiokafka consume     {ceiling:>9.0f} events/s   "
          f"{ceiling_cpu:5.1f} CPU µs/event")  # fmt: skip
    print(f"ceiling  consume + parse JSON      {parsing:>9.0f} events/s   "
          f"{parsing_cpu:5.1f} CPU µs/event")  # fmt: skip
    print(f"worker   raw → step → chDB         {worker_rate:>9.0f} events/s "
          f"(incl. ~2 s group join)   ratio {worker_rate / ceiling:.3f} "
          f"(to parse-only {worker_rate / parsing:.2f})")  # fmt: skip
    print(f"worker   from its first stored batch {joined_rate:>7.0f} events/s   "
          f"{worker_cpu:5.1f} CPU µs/event (the process's, all threads)   "
          f"ratio {joined_rate / ceiling:.3f}, in CPU {ceiling_cpu / worker_cpu:.3f}")  # fmt: skip
    rate, total = 1000, args.lag_seconds * 1000
    for second in range(args.lag_seconds):
        tick = time.perf_counter()
        for burst in range(10):  # 100 events every 100 ms
            _append(writer, n + second * rate + burst * 100, 100)
            time.sleep(max(0.0, tick + (burst + 1) * 0.1 - time.perf_counter()))
    while step.stored < n + total:
        time.sleep(0.1)
    sql = (
        "SELECT dateDiff('millisecond', fromUnixTimestamp64Micro(ts_us), stored_at) "
        f"FROM bench.access_events FINAL ORDER BY ts_us DESC LIMIT {total}"
    )
    lags = [float(v) for (v,) in client.query(sql).result_rows]
    print(f"lag      steady 1,000 events/s     p50 {percentile(lags, 0.5):.0f} ms   "
          f"p99 {percentile(lags, 0.99):.0f} ms   (n={len(lags)})")  # fmt: skip
    relay.stop()
    host.stop()
    writer.close()
    stop_broker(work / "kafka")


if __name__ == "__main__":
    main()
