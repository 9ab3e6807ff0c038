"""Consumer lag (stream/kafka/lag.py) without Kafka: the pure computation, the gauges it
publishes, the faust consumer read through a stand-in, and the API's /metrics showing it."""

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from api.http.metrics import router as metrics_router
from api.http.middleware import UnrecordedAuditMiddleware
from stream.kafka.lag import (
    LagGauges,
    LagMonitor,
    LagSample,
    Offsets,
    StallClock,
    lag_samples,
    partition_lag,
)


class TP(NamedTuple):  # faust's TP and aiokafka's TopicPartition are this shape
    topic: str
    partition: int


@pytest.mark.parametrize(
    ("offsets", "lag"),
    [
        (Offsets(end=120, committed=100, position=110), 20),  # committed, not fetched, counts
        (Offsets(end=100, committed=100), 0),
        (Offsets(end=0, committed=None, position=0), 0),  # empty partition, nothing committed
        (Offsets(end=50, committed=None, position=20), 30),  # nothing committed: position
        (Offsets(end=90, committed=100), 0),  # end read before the commit: never negative
        (Offsets(end=None, committed=5, position=5), None),  # end unknown
        (Offsets(end=10, committed=None, position=None), None),  # progress unknown
    ],
)
def test_partition_lag(offsets: Offsets, lag: int | None) -> None:
    assert partition_lag(offsets) == lag


def test_lag_samples_are_sorted_and_skip_unknown_partitions() -> None:
    offsets = {
        ("raw", 1): Offsets(10, 4),
        ("evidence", 2): Offsets(7, 7),
        ("raw", 0): Offsets(None, 4),
        ("evidence", 0): Offsets(3, None, 1),
    }
    samples = lag_samples(offsets, StallClock(), now=100.0)
    assert samples == [
        LagSample("evidence", 0, 2, 0.0),
        LagSample("evidence", 2, 0, 0.0),
        LagSample("raw", 1, 6, 0.0),
    ]


def test_stalled_grows_only_while_behind_without_progress() -> None:
    stalls = StallClock()
    key = ("evidence", 0)

    def stalled(now: float, end: int, committed: int | None) -> float:
        [sample] = lag_samples({key: Offsets(end, committed)}, stalls, now)
        return sample.stalled_s

    assert stalled(0.0, 10, 5) == 0.0  # first reading: no history
    assert stalled(5.0, 12, 5) == 5.0  # behind, commit stood still
    assert stalled(9.0, 15, 5) == 9.0
    assert stalled(10.0, 15, 8) == 0.0  # the commit moved
    assert stalled(14.0, 15, 8) == 4.0
    assert stalled(15.0, 15, 15) == 0.0  # caught up
    assert stalled(30.0, 15, 15) == 0.0  # idle but caught up: not stalled
    assert stalled(31.0, 16, 15) == 1.0  # a new message: counted from the last reading
    assert stalled(40.0, 16, 15) == 10.0  # that found it caught up


def test_a_partition_that_goes_away_starts_afresh() -> None:
    stalls = StallClock()
    key = ("raw", 3)
    lag_samples({key: Offsets(10, 5)}, stalls, 0.0)
    assert lag_samples({}, stalls, 50.0) == []  # revoked
    assert lag_samples({key: Offsets(10, 5)}, stalls, 60.0) == [LagSample("raw", 3, 5, 0.0)]


def _private_gauges() -> tuple[CollectorRegistry, Gauge, Gauge]:
    registry = CollectorRegistry()
    lag = Gauge("lag", "lag", ["topic", "partition"], registry=registry)
    stalled = Gauge("stalled", "stalled", ["topic", "partition"], registry=registry)
    return registry, lag, stalled


def _series(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    return {
        (s.name, s.labels["topic"], s.labels["partition"]): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_gauges_set_and_remove_series() -> None:
    registry, lag, stalled = _private_gauges()
    gauges = LagGauges(lag, stalled)
    gauges.publish([LagSample("raw", 0, 7, 1.5), LagSample("raw", 1, 0, 0.0)])
    assert _series(registry) == {
        ("lag", "raw", "0"): 7, ("stalled", "raw", "0"): 1.5,
        ("lag", "raw", "1"): 0, ("stalled", "raw", "1"): 0.0,
    }  # fmt: skip
    gauges.publish([LagSample("raw", 1, 3, 0.0)])  # partition 0 moved to another worker
    assert _series(registry) == {("lag", "raw", "1"): 3, ("stalled", "raw", "1"): 0.0}
    gauges.publish(())
    assert _series(registry) == {}


class FakeConsumer:
    """What LagMonitor uses of a faust consumer."""

    def __init__(
        self,
        assigned: set[TP],
        ends: Mapping[TP, int],
        committed: Mapping[TP, int | None],
        positions: Mapping[TP, int],
    ) -> None:
        self.assigned, self.ends, self.positions = assigned, dict(ends), dict(positions)
        self._committed_offset = dict(committed)
        self.broken = False

    def assignment(self) -> set[TP]:
        return self.assigned

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        if self.broken:
            raise ConnectionError("broker gone")
        return {tp: self.ends[tp] for tp in tps}

    async def position(self, tp: TP) -> int:
        return self.positions[tp]


def test_monitor_reads_the_assigned_partitions_of_its_topics() -> None:
    registry, lag, stalled = _private_gauges()
    raw0, raw1, ev0, other = TP("raw", 0), TP("raw", 1), TP("evidence", 0), TP("x-assignor", 0)
    consumer = FakeConsumer(
        {raw0, raw1, ev0, other},
        ends={raw0: 10, raw1: 4, ev0: 9, other: 3},
        committed={raw0: 6, ev0: 9},  # raw1: nothing committed yet
        positions={raw1: 1},
    )
    clock = iter([100.0, 103.0, 104.0])
    monitor = LagMonitor(["raw", "evidence"], LagGauges(lag, stalled), clock=lambda: next(clock))
    samples = asyncio.run(monitor.tick(consumer))
    assert samples == [
        LagSample("evidence", 0, 0, 0.0),
        LagSample("raw", 0, 4, 0.0),
        LagSample("raw", 1, 3, 0.0),
    ]
    assert _series(registry)[("lag", "raw", "0")] == 4
    assert not any(topic == "x-assignor" for _, topic, _ in _series(registry))

    consumer.ends[raw0] = 12  # more arrives, nothing committed for 3 s
    samples = asyncio.run(monitor.tick(consumer))
    assert LagSample("raw", 0, 6, 3.0) in samples

    consumer.broken = True  # a failed reading keeps the last values
    assert asyncio.run(monitor.tick(consumer)) == []
    assert _series(registry)[("lag", "raw", "0")] == 6
    monitor.clear()
    assert _series(registry) == {}


def test_monitor_reports_nothing_before_an_assignment() -> None:
    class NotStarted:
        def assignment(self) -> Any:
            raise RuntimeError("Consumer thread not yet started")

    registry, lag, stalled = _private_gauges()
    monitor = LagMonitor(["raw"], LagGauges(lag, stalled))
    assert asyncio.run(monitor.tick(NotStarted())) == []
    assert _series(registry) == {}


def test_the_api_metrics_endpoint_shows_the_workers_lag() -> None:
    """`serve` runs the workers in the API process: one registry, one /metrics."""
    topic = f"t{uuid.uuid4().hex[:8]}.fhir.access.raw"
    gauges = LagGauges()  # the process-wide gauges of stream.metrics
    gauges.publish([LagSample(topic, 2, 42, 1.0)])
    app = FastAPI()
    app.include_router(metrics_router)
    app.add_middleware(UnrecordedAuditMiddleware)  # the route concludes its request's record
    try:
        text = TestClient(app).get("/metrics").text
    finally:
        gauges.publish(())
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = (("partition", "2"), ("topic", topic))
    assert samples[("fhir_evidence_consumer_lag_messages", labels)] == 42
    assert samples[("fhir_evidence_consumer_commit_stalled_seconds", labels)] == 1.0
