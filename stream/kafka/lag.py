"""Kafka consumer lag of the stream workers, for Prometheus.

For every partition this process consumes: the messages its group has not committed yet
(the broker's end offset minus the committed offset) and how long the partition has been
behind without its committed offset moving. Each worker reports only the partitions
assigned to it, so a sum over processes is the group's lag; a partition that moves to
another worker disappears from this one's metrics at the next reading.

`partition_lag` and `lag_samples` are pure (offsets and a clock reading in, samples out);
`LagMonitor` reads the offsets from the faust consumer on a timer and publishes them.
Labels are topic names and partition numbers only.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Gauge

from stream.metrics import CONSUMER_LAG, CONSUMER_STALLED

log = structlog.get_logger("fhir_evidence.consumer_lag")
PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Offsets:
    """What is known of one partition; Kafka offsets name the next message."""

    end: int | None  # the broker's end offset (high watermark)
    committed: int | None  # the group's committed offset: the next message to process
    position: int | None = None  # the consumer's fetch position: the next message to fetch

    @property
    def progress(self) -> int | None:
        """Where processing stands: the committed offset, else (nothing committed yet) the
        fetch position."""
        return self.committed if self.committed is not None else self.position


@dataclass(frozen=True)
class LagSample:
    topic: str
    partition: int
    lag: int  # messages (a raw message carries a run of up to 100 events)
    stalled_s: float  # seconds behind with the committed offset standing still


def partition_lag(offsets: Offsets) -> int | None:
    """Messages not yet processed, or None when the offsets do not tell."""
    if offsets.end is None or offsets.progress is None:
        return None
    return max(0, offsets.end - offsets.progress)


@dataclass
class _Progress:
    offset: int | None
    since: float


class StallClock:
    """For each partition, the time since the last reading that found it caught up or its
    progress moved (0 at such a reading): how long it has been behind without progress."""

    def __init__(self) -> None:
        self._progress: dict[PartitionKey, _Progress] = {}

    def stalled_s(self, key: PartitionKey, offsets: Offsets, lag: int, now: float) -> float:
        last = self._progress.get(key)
        if lag == 0 or last is None or last.offset != offsets.progress:
            last = self._progress[key] = _Progress(offsets.progress, now)
        return max(0.0, now - last.since)

    def keep_only(self, keys: Iterable[PartitionKey]) -> None:
        kept = set(keys)
        self._progress = {k: v for k, v in self._progress.items() if k in kept}


def lag_samples(
    offsets: Mapping[PartitionKey, Offsets], stalls: StallClock, now: float
) -> list[LagSample]:
    """One sample per partition whose lag is known, in topic and partition order."""
    samples = []
    for key in sorted(offsets):
        lag = partition_lag(offsets[key])
        if lag is None:
            continue
        stalled = stalls.stalled_s(key, offsets[key], lag, now)
        samples.append(LagSample(key[0], key[1], lag, stalled))
    stalls.keep_only(offsets)
    return samples


class LagGauges:
    """Publishes samples; the series of a partition no longer reported are removed."""

    def __init__(self, lag: Gauge = CONSUMER_LAG, stalled: Gauge = CONSUMER_STALLED) -> None:
        self._lag, self._stalled = lag, stalled
        self._shown: set[tuple[str, str]] = set()

    def publish(self, samples: Iterable[LagSample]) -> None:
        shown = set()
        for sample in samples:
            labels = (sample.topic, str(sample.partition))
            self._lag.labels(*labels).set(sample.lag)
            self._stalled.labels(*labels).set(sample.stalled_s)
            shown.add(labels)
        for labels in self._shown - shown:
            for gauge in (self._lag, self._stalled):
                with contextlib.suppress(KeyError):  # gone already (prometheus-client < 0.21)
                    gauge.remove(*labels)
        self._shown = shown


async def read_offsets(
    consumer: Any, topics: frozenset[str], timeout_s: float
) -> dict[PartitionKey, Offsets]:
    """The offsets of the partitions of `topics` assigned to a faust consumer: end offsets
    from the broker, committed offsets as faust committed them (its `_committed_offset`,
    filled from the group at assignment), the fetch position where nothing is committed."""
    try:
        assigned = sorted(tp for tp in consumer.assignment() if tp.topic in topics)
    except Exception:  # not started or between assignments: nothing to report
        return {}
    if not assigned:
        return {}
    ends = await asyncio.wait_for(consumer.highwaters(*assigned), timeout_s)
    committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    found = {}
    for tp in assigned:
        done, position = committed.get(tp), None
        if done is None:
            position = await asyncio.wait_for(consumer.position(tp), timeout_s)
        found[(tp.topic, tp.partition)] = Offsets(ends.get(tp), done, position)
    return found


class LagMonitor:
    """`tick(consumer)` on a timer of every worker: read, compute, publish."""

    def __init__(
        self,
        topics: Iterable[str],
        gauges: LagGauges | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = 10.0,
    ) -> None:
        self._topics = frozenset(topics)
        self._gauges = gauges or LagGauges()
        self._clock, self._timeout_s = clock, timeout_s
        self._stalls = StallClock()
        self._failing = False
        self.total: int | None = None  # messages behind over this worker's partitions

    async def tick(self, consumer: Any) -> list[LagSample]:
        try:
            offsets = await read_offsets(consumer, self._topics, self._timeout_s)
        except Exception as exc:  # broker unreachable: keep the last values, say it once
            if not self._failing:
                log.warning("consumer lag not read", error=type(exc).__name__)
            self._failing = True
            return []
        self._failing = False
        samples = lag_samples(offsets, self._stalls, self._clock())
        self._gauges.publish(samples)
        self.total = sum(sample.lag for sample in samples)
        return samples

    def clear(self) -> None:
        self._gauges.publish(())
