"""The outbox fan-in of `serve --workers N` (stream.fan_in): several outboxes (one per API
process, each its own producer) drained through one stream step on a real chDB store: each
producer's events stored in its order, each outbox's position committed in its own file,
turns taken between outboxes, and an outbox that appears later joins."""

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from evidence.core.record import evidence_payload
from evidence.core.verify import verify_chain
from evidence.store import EvidenceStore
from stream.fan_in import OutboxFanIn, never_notified
from stream.inline import InlineProcessor
from stream.outbox import OutboxReader, OutboxRow, OutboxWriter
from stream.step import EvidenceStep, Parked
from tests.evidence.builders import PSEUDONYMIZER, make_event
from tests.support import wait_for

HOUR_US = 3_600_000_000
BASE_US = int(time.time()) // 3600 * HOUR_US - 24 * HOUR_US  # recent: inside the TTL
ALL = (0, BASE_US + 48 * HOUR_US)


class RecordingStep(EvidenceStep):
    """The real step, remembering the (producer, sequence) of every row in the order given."""

    seen: list[tuple[str, int]]

    def run(self, batch: Sequence[OutboxRow], patience_s: float = float("inf")) -> list[Parked]:
        self.seen.extend((row.producer_id, row.sequence) for row in batch)
        return super().run(batch, patience_s)


@pytest.fixture
def step(evidence_store: EvidenceStore) -> RecordingStep:
    recording = RecordingStep(evidence_store, {1}, "inline", max_backoff_s=0.05)
    recording.seen = []
    return recording


class Outboxes:
    """Outbox files of a data dir, a writer on each (the API processes' side)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writers: dict[str, OutboxWriter] = {}
        self.readers: list[OutboxReader] = []
        self._n = 0

    def writer(self, name: str) -> OutboxWriter:
        if name not in self.writers:
            self.writers[name] = OutboxWriter(
                self.root / name, lambda e: evidence_payload(e, PSEUDONYMIZER), key_version=1
            )
        return self.writers[name]

    def append(self, name: str, count: int) -> list[str]:
        writer, ids = self.writer(name), []

        async def run() -> None:
            for _ in range(count):
                self._n += 1
                event = make_event(self._n, ts_us=BASE_US + self._n * 1_000_000)
                await writer.append(event)
                ids.append(event.event_id)

        asyncio.run(run())
        return ids

    def processor(self, name: str, step: EvidenceStep, batch_size: int = 5) -> InlineProcessor:
        reader = OutboxReader(self.root / name, "inline-processor")
        self.readers.append(reader)
        return InlineProcessor(reader, step, never_notified, batch_size)

    def committed(self, name: str) -> int:
        reader = OutboxReader(self.root / name, "inline-processor")
        try:
            return reader.position()
        finally:
            reader.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        for reader in self.readers:
            reader.close()


@pytest.fixture
def outboxes(tmp_path: Path) -> Iterator[Outboxes]:
    made = Outboxes(tmp_path)
    yield made
    made.close()


def _in_order_per_producer(seen: list[tuple[str, int]]) -> dict[str, list[int]]:
    by_producer: dict[str, list[int]] = {}
    for producer, sequence in seen:
        by_producer.setdefault(producer, []).append(sequence)
    return by_producer


def test_every_outbox_drained_in_order_with_its_position_committed(
    outboxes: Outboxes, step: RecordingStep, evidence_store: EvidenceStore
) -> None:
    names = ["outbox.sqlite", "outbox-1.sqlite", "outbox-2.sqlite"]
    counts = {"outbox.sqlite": 12, "outbox-1.sqlite": 7, "outbox-2.sqlite": 0}
    ids = [i for name in names for i in outboxes.append(name, counts[name])]
    fan_in = OutboxFanIn([outboxes.processor(n, step) for n in names], step)
    assert fan_in.lag() == 19
    assert fan_in.drain(30)
    assert fan_in.lag() == 0 and fan_in.processed == 19
    for name in names:  # each outbox's own position, durable in its own file
        assert outboxes.committed(name) == counts[name]
    producers = {n: outboxes.writers[n].producer_id for n in names}
    assert _in_order_per_producer(step.seen) == {
        producers["outbox.sqlite"]: list(range(1, 13)),
        producers["outbox-1.sqlite"]: list(range(1, 8)),
    }
    # turns: the second outbox's first batch comes before the first outbox's last
    first_of_second = step.seen.index((producers["outbox-1.sqlite"], 1))
    assert first_of_second < step.seen.index((producers["outbox.sqlite"], 12))
    rows = evidence_store.chain_rows(*ALL)
    assert sorted(r["event_id"] for r in rows) == sorted(ids)
    assert verify_chain(rows).intact


def test_a_restarted_fan_in_goes_on_from_the_committed_positions(
    outboxes: Outboxes, step: RecordingStep, evidence_store: EvidenceStore
) -> None:
    names = ["outbox.sqlite", "outbox-1.sqlite"]
    for name in names:
        outboxes.append(name, 6)
    assert OutboxFanIn([outboxes.processor(n, step) for n in names], step).drain(30)
    for name in names:
        outboxes.append(name, 3)
    step.seen.clear()
    again = OutboxFanIn([outboxes.processor(n, step) for n in names], step)
    assert again.lag() == 6
    assert again.drain(30)
    assert sorted(step.seen) == sorted((outboxes.writers[n].producer_id, s)
                                       for n in names for s in (7, 8, 9))  # fmt: skip
    assert evidence_store.count_events() == 18


def test_the_thread_follows_the_outboxes_and_takes_on_a_new_one(
    outboxes: Outboxes, step: RecordingStep, evidence_store: EvidenceStore
) -> None:
    known = {"outbox.sqlite"}
    outboxes.append("outbox.sqlite", 4)

    def discover() -> list[InlineProcessor]:  # as the pipeline process looks at its data dir
        found = []
        for name in sorted({p.name for p in outboxes.root.glob("outbox*.sqlite")} - known):
            found.append(outboxes.processor(name, step))
            known.add(name)
        return found

    fan_in = OutboxFanIn([outboxes.processor("outbox.sqlite", step)], step, linger_s=0.01,
                         discover=discover, discover_s=0.05)  # fmt: skip
    fan_in.start()
    try:
        assert wait_for(lambda: evidence_store.count_events() == 4, timeout=15)
        outboxes.append("outbox-3.sqlite", 5)  # an API process of a larger N
        outboxes.append("outbox.sqlite", 2)
        assert wait_for(lambda: evidence_store.count_events() == 11, timeout=15)
        assert len(fan_in.processors) == 2 and fan_in.running
    finally:
        fan_in.stop()
    assert not fan_in.running
    assert outboxes.committed("outbox-3.sqlite") == 5
    assert outboxes.committed("outbox.sqlite") == 6
