"""InlineProcessor (the stream step's embedded driver): outbox → evidence store, in order,
idempotent, poison parked, nothing lost."""

import asyncio
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest

from evidence.core import AccessEvent, canonical_bytes
from evidence.core.record import evidence_payload
from evidence.core.verify import verify_chain
from evidence.store import EvidenceStore, StoreUnavailable
from stream.inline import InlineProcessor
from stream.outbox import OutboxReader, OutboxWriter
from stream.step import EvidenceStep
from tests.evidence.builders import PSEUDONYMIZER, make_event
from tests.support import wait_for

HOUR_US = 3_600_000_000
BASE_US = int(time.time()) // 3600 * HOUR_US - 24 * HOUR_US  # recent: inside the TTL
ALL = (0, BASE_US + 48 * HOUR_US)


def event(n: int) -> AccessEvent:
    return make_event(n, ts_us=BASE_US + n * 1_000_000, sub=("dr-alice", "dr-bob")[n % 2])


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite"


@pytest.fixture
def writer(path: Path) -> Iterator[OutboxWriter]:
    w = OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), key_version=1)
    yield w
    w.close()


def append(writer: OutboxWriter, numbers: range) -> None:
    async def run() -> None:
        for n in numbers:
            await writer.append(event(n))

    asyncio.run(run())


_open_readers: list[OutboxReader] = []


@pytest.fixture(autouse=True)
def _close_readers() -> Iterator[None]:
    yield
    while _open_readers:
        _open_readers.pop().close()


def reader_at(path: Path) -> OutboxReader:
    reader = OutboxReader(path, "inline-processor")
    _open_readers.append(reader)
    return reader


def processor(
    path: Path, store: EvidenceStore, writer: OutboxWriter, batch_size: int = 10
) -> InlineProcessor:
    step = EvidenceStep(store, {1}, "inline", max_backoff_s=0.05)
    return InlineProcessor(reader_at(path), step, writer.wait_for_commit, batch_size)


def run_to_end(proc: InlineProcessor) -> list[int]:
    batches = []
    while done := proc.process_available():
        batches.append(done)
    return batches


def stored_ids(store: EvidenceStore) -> list[str]:
    return [row["event_id"] for row in store.chain_rows(*ALL)]


def stored_sequences(store: EvidenceStore) -> list[int]:
    return [int(row["sequence"]) for row in store.chain_rows(*ALL)]


def test_moves_every_event_in_order(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    append(writer, range(1, 26))
    proc = processor(path, evidence_store, writer)
    assert run_to_end(proc) == [10, 10, 5]
    assert proc.position == 25 and proc.processed == 25
    assert reader_at(path).position() == 25
    rows = evidence_store.chain_rows(*ALL)
    assert [r["event_id"] for r in rows] == [event(n).event_id for n in range(1, 26)]
    assert {r["producer_id"] for r in rows} == {writer.producer_id}
    report = verify_chain(rows)
    assert report.intact and report.events_checked == 25


@pytest.mark.parametrize("second_batch", [10, 7, 100])
def test_replay_after_a_crash_creates_no_duplicates(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore, second_batch: int
) -> None:
    append(writer, range(1, 31))
    first = processor(path, evidence_store, writer)
    run_to_end(first)
    first._reader.commit_position(0)  # the crash: rows stored, position not yet committed
    replay = processor(path, evidence_store, writer, batch_size=second_batch)
    assert replay.position == 0
    run_to_end(replay)
    assert replay.position == 30
    assert evidence_store.count_events() == 30
    assert stored_sequences(evidence_store) == list(range(1, 31))
    for sub in ("dr-alice", "dr-bob"):
        found = evidence_store.accesses_by_principal(sub, *ALL, limit=1000)
        assert len(found) == 15 == len({r["event_id"] for r in found})
    patient = PSEUDONYMIZER.patient("pat-0001")
    found = evidence_store.accesses_by_patient(patient, *ALL, limit=1000)
    assert sorted(r["event_id"] for r in found) == [
        event(n).event_id for n in range(1, 31) if n % 7 == 1
    ]
    assert verify_chain(evidence_store.chain_rows(*ALL)).intact


def _sql(path: Path, sql: str, *params: Any) -> list[Any]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        return conn.execute(sql, params).fetchall()


def dead_letters(path: Path) -> list[tuple[str, int, str]]:
    rows = _sql(path, "SELECT consumer, sequence, code FROM dead_letters ORDER BY sequence")
    return [(c, int(s), code) for c, s, code in rows]


def test_tampered_row_is_parked_and_does_not_block(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    append(writer, range(1, 21))
    [(blob,)] = _sql(path, "SELECT payload FROM outbox WHERE sequence = 4")
    body = orjson.loads(blob)
    body["decision"] = "deny"
    _sql(path, "UPDATE outbox SET payload = ? WHERE sequence = 4", canonical_bytes(body))
    proc = processor(path, evidence_store, writer)
    run_to_end(proc)
    assert proc.position == 20
    assert dead_letters(path) == [("inline-processor", 4, "event.seal_mismatch")]
    assert stored_sequences(evidence_store) == [n for n in range(1, 21) if n != 4]
    problems = verify_chain(evidence_store.chain_rows(*ALL)).problems
    assert [(p.kind, p.detail) for p in problems] == [("missing", "sequences 4..4 absent")]


@pytest.mark.parametrize("body", [b'{"event_id": "x"}', b"[1, 2]", b"not json {", b"\xff\xfe"])
def test_malformed_row_is_poison(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore, body: bytes
) -> None:
    append(writer, range(1, 6))
    _sql(path, "UPDATE outbox SET payload = ? WHERE sequence = 2", body)
    proc = processor(path, evidence_store, writer)
    run_to_end(proc)
    assert dead_letters(path) == [("inline-processor", 2, "event.seal_mismatch")]
    assert stored_sequences(evidence_store) == [1, 3, 4, 5]


def test_parked_event_is_replayable_once_repaired(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    append(writer, range(1, 9))
    [(original,)] = _sql(path, "SELECT payload FROM outbox WHERE sequence = 3")
    _sql(path, "UPDATE outbox SET payload = ? WHERE sequence = 3", b"{}")
    proc = processor(path, evidence_store, writer)
    run_to_end(proc)
    assert proc.position == 8
    assert dead_letters(path) == [("inline-processor", 3, "event.seal_mismatch")]
    assert stored_sequences(evidence_store) == [1, 2, 4, 5, 6, 7, 8]
    # The operator restores the sealed bytes and replays the consumer from the start.
    _sql(path, "UPDATE outbox SET payload = ? WHERE sequence = 3", original)
    proc._reader.commit_position(0)
    replay = processor(path, evidence_store, writer)
    run_to_end(replay)
    assert stored_sequences(evidence_store) == list(range(1, 9))
    assert evidence_store.count_events() == 8


def test_drain_returns_true_once_everything_is_stored(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    proc = processor(path, evidence_store, writer, batch_size=4)
    assert proc.drain(1.0) is True  # nothing to do
    append(writer, range(1, 15))
    assert proc.drain(10.0) is True
    assert evidence_store.count_events() == 14


def test_background_thread_follows_the_outbox(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    proc = processor(path, evidence_store, writer, batch_size=5)
    proc.start()
    try:
        append(writer, range(1, 8))
        wait_for(lambda: evidence_store.count_events() == 7, timeout=10)
        append(writer, range(8, 13))
        assert proc.drain(10.0) is True
        assert evidence_store.count_events() == 12
    finally:
        proc.stop()
    assert stored_sequences(evidence_store) == list(range(1, 13))


class FlakyStore(EvidenceStore):
    """The real store, except that inserts fail while `down` is set."""

    def __init__(self, real: EvidenceStore) -> None:
        super().__init__(real._client, real._db)
        self.down = True
        self.attempts = 0

    def insert_rows(self, rows: Sequence[dict[str, Any]], dedup_token: str) -> None:
        self.attempts += 1
        if self.down:
            raise StoreUnavailable("the evidence store failed")
        super().insert_rows(rows, dedup_token)


def test_store_down_leaves_the_position_so_nothing_is_lost(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    flaky = FlakyStore(evidence_store)
    append(writer, range(1, 6))
    proc = processor(path, flaky, writer)
    with pytest.raises(StoreUnavailable):
        proc.process_available()
    assert proc.position == 0
    assert reader_at(path).position() == 0
    assert evidence_store.count_events() == 0
    flaky.down = False
    run_to_end(proc)
    assert stored_sequences(evidence_store) == [1, 2, 3, 4, 5]


def test_background_thread_retries_until_the_store_is_back(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    flaky = FlakyStore(evidence_store)
    proc = processor(path, flaky, writer)
    proc.start()
    try:
        append(writer, range(1, 6))
        wait_for(lambda: flaky.attempts >= 2, timeout=10)
        assert proc.position == 0
        assert proc.drain(0.2) is False
        flaky.down = False
        assert proc.drain(10.0) is True
    finally:
        proc.stop()
    assert stored_sequences(evidence_store) == [1, 2, 3, 4, 5]


def test_stopped_while_the_store_is_down_the_batch_stays_in_the_outbox(
    path: Path, writer: OutboxWriter, evidence_store: EvidenceStore
) -> None:
    flaky = FlakyStore(evidence_store)
    proc = processor(path, flaky, writer)
    proc.start()
    append(writer, range(1, 6))
    wait_for(lambda: flaky.attempts >= 2, timeout=10)
    proc.stop(timeout=5.0)
    assert proc._thread is not None and not proc._thread.is_alive()
    assert proc.position == 0 and reader_at(path).position() == 0
    flaky.down = False
    replay = processor(path, flaky, writer)
    run_to_end(replay)
    assert stored_sequences(evidence_store) == [1, 2, 3, 4, 5]
