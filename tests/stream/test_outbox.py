"""The write-ahead outbox: group commit, hash chain, durable positions, fail-closed appends."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.core import GENESIS_HASH, AccessEvent, chain_hash, event_from_dict, event_to_dict
from evidence.core.record import evidence_payload
from stream.outbox import OutboxReader, OutboxRow, OutboxUnavailable, OutboxWriter
from tests.evidence.builders import PSEUDONYMIZER, make_event

ROOT = Path(__file__).resolve().parents[2]


def open_writer(path: Path) -> OutboxWriter:
    return OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), key_version=1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite"


@pytest.fixture
def writer(path: Path) -> Iterator[OutboxWriter]:
    w = open_writer(path)
    yield w
    w.close()


def append_all(writer: OutboxWriter, events: list[AccessEvent]) -> list[int]:
    async def run() -> list[int]:
        return list(await asyncio.gather(*(writer.append(e) for e in events)))

    return asyncio.run(run())


def all_rows(path: Path) -> list[OutboxRow]:
    reader = OutboxReader(path, "inspector")
    try:
        return reader.read_after(0, 1_000_000)
    finally:
        reader.close()


def assert_valid_chain(rows: list[OutboxRow], producer_id: str) -> None:
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        assert row.sequence == expected_seq
        assert row.prev_hash == prev
        payload = evidence_payload(event_from_dict(row.event), PSEUDONYMIZER)
        assert chain_hash(producer_id, row.sequence, row.prev_hash, payload) == row.event_hash
        assert row.key_version == 1
        prev = row.event_hash


def test_concurrent_appends_get_unique_consecutive_sequences(
    writer: OutboxWriter, path: Path
) -> None:
    events = [make_event(n) for n in range(1, 401)]
    sequences = append_all(writer, events)
    assert sorted(sequences) == list(range(1, 401))
    rows = all_rows(path)
    assert_valid_chain(rows, writer.producer_id)
    by_seq = {row.sequence: row.event for row in rows}
    for event, seq in zip(events, sequences, strict=True):  # each caller got its own row
        assert by_seq[seq] == event_to_dict(event)
    assert writer.last_sequence == 400


def test_appends_from_many_event_loops_and_threads(writer: OutboxWriter, path: Path) -> None:
    def worker(offset: int) -> None:
        append_all(writer, [make_event(offset + n) for n in range(50)])

    threads = [threading.Thread(target=worker, args=(1000 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = all_rows(path)
    assert len(rows) == 200
    assert_valid_chain(rows, writer.producer_id)


def test_reopen_continues_sequence_chain_and_producer(path: Path) -> None:
    first = open_writer(path)
    producer = first.producer_id
    assert producer.startswith("api-")
    append_all(first, [make_event(n) for n in range(1, 6)])
    first.close()
    second = open_writer(path)
    try:
        assert second.producer_id == producer
        assert second.last_sequence == 5
        assert append_all(second, [make_event(n) for n in range(6, 9)]) == [6, 7, 8]
    finally:
        second.close()
    rows = all_rows(path)
    assert_valid_chain(rows, producer)
    reader = OutboxReader(path, "x")
    assert reader.producer_id == producer
    assert reader.last_sequence() == 8
    reader.close()


def test_unwritable_database_fails_closed_without_advancing(
    writer: OutboxWriter, path: Path
) -> None:
    append_all(writer, [make_event(1), make_event(2)])
    admin = sqlite3.connect(path, isolation_level=None)
    admin.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(OutboxUnavailable):
        append_all(writer, [make_event(3)])
    with pytest.raises(OutboxUnavailable):
        append_all(writer, [make_event(4), make_event(5)])
    assert writer.last_sequence == 2
    assert len(all_rows(path)) == 2
    admin.execute("DROP TRIGGER refuse")
    admin.close()
    assert append_all(writer, [make_event(6)]) == [3]
    assert_valid_chain(all_rows(path), writer.producer_id)


def test_closed_connection_fails_closed(writer: OutboxWriter, path: Path) -> None:
    append_all(writer, [make_event(1)])
    writer._conn.close()  # the database handle is gone (e.g. the disk was unmounted)
    with pytest.raises(OutboxUnavailable) as info:
        append_all(writer, [make_event(2)])
    assert info.value.code == "outbox.unavailable"
    assert writer.last_sequence == 1
    assert [r.sequence for r in all_rows(path)] == [1]


def test_unencodable_event_fails_closed_and_the_next_one_continues(
    path: Path,
) -> None:
    writer = OutboxWriter(path, lambda e: {"bad": 0.5} if e.status == 599 else {}, 1)
    try:
        with pytest.raises(OutboxUnavailable):
            append_all(writer, [make_event(1, status=599)])
        assert append_all(writer, [make_event(2)]) == [1]
    finally:
        writer.close()


def test_duplicate_event_id_is_refused(writer: OutboxWriter) -> None:
    append_all(writer, [make_event(1)])
    with pytest.raises(OutboxUnavailable):
        append_all(writer, [make_event(1)])
    assert writer.last_sequence == 1


def test_reader_positions_and_dead_letters_persist(writer: OutboxWriter, path: Path) -> None:
    append_all(writer, [make_event(n) for n in range(1, 11)])
    reader = OutboxReader(path, "inline")
    assert reader.position() == 0
    assert [r.sequence for r in reader.read_after(3, 4)] == [4, 5, 6, 7]
    reader.commit_position(7)
    reader.commit_position(8)
    reader.park_dead_letter(5, "event.poison", "seal mismatch")
    reader.park_dead_letter(5, "event.poison", "seal mismatch again")
    reader.close()
    again = OutboxReader(path, "inline")
    other = OutboxReader(path, "relay")
    try:
        assert again.position() == 8
        assert again.dead_letter_count() == 1
        assert other.position() == 0
        assert other.dead_letter_count() == 0
        assert [r.sequence for r in again.read_after(again.position(), 100)] == [9, 10]
    finally:
        again.close()
        other.close()


def test_wait_for_commit_wakes_up(writer: OutboxWriter) -> None:
    assert writer.wait_for_commit(0, 0.05) is False
    result: list[tuple[bool, float]] = []

    def waiter() -> None:
        start = time.monotonic()
        woke = writer.wait_for_commit(0, 10.0)
        result.append((woke, time.monotonic() - start))

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)
    append_all(writer, [make_event(1)])
    thread.join(5)
    assert result and result[0][0] is True
    assert result[0][1] < 5.0
    assert writer.wait_for_commit(0, 0.0) is True  # already beyond: no wait
    assert writer.wait_for_commit(1, 0.05) is False


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from evidence.core.record import evidence_payload
    from stream.outbox import OutboxWriter
    from tests.evidence.builders import PSEUDONYMIZER, make_event

    writer = OutboxWriter(Path(sys.argv[1]), lambda e: evidence_payload(e, PSEUDONYMIZER), 1)

    async def one(n):
        seq = await writer.append(make_event(n))
        print(seq, make_event(n).event_id, flush=True)

    async def main():
        for wave in range(0, 100_000, 8):
            await asyncio.gather(*(one(n) for n in range(wave + 1, wave + 9)))

    asyncio.run(main())
    """
)


def test_acknowledged_appends_survive_sigkill(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    acknowledged: dict[int, str] = {}
    try:
        assert child.stdout is not None
        while len(acknowledged) < 60:
            line = child.stdout.readline()
            assert line, "the child exited early"
            seq, event_id = line.split()
            acknowledged[int(seq)] = event_id
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    rows = all_rows(path)
    stored = {row.sequence: row.event["event_id"] for row in rows}
    for seq, event_id in acknowledged.items():
        assert stored.get(seq) == event_id
    reopened = open_writer(path)
    try:
        assert_valid_chain(rows, reopened.producer_id)
        assert reopened.last_sequence == len(rows)
        assert append_all(reopened, [make_event(10**7)]) == [len(rows) + 1]
    finally:
        reopened.close()


def test_prune_keeps_unconsumed_rows_and_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "prune.sqlite"
    writer = OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), 1)

    async def fill() -> None:
        for n in range(20):
            await writer.append(make_event(n))

    asyncio.run(fill())
    fast, slow = OutboxReader(path, "fast"), OutboxReader(path, "slow")
    fast.commit_position(20)
    slow.commit_position(8)
    assert fast.prune_below(100) == 8  # the slow consumer still needs 8..20
    fast.commit_position(20)
    slow.commit_position(20)
    assert fast.prune_below(100) == 20
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT min(sequence), max(sequence) FROM outbox").fetchone() == (20, 20)
    writer.close()
    reopened = OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), 1)
    assert reopened.last_sequence == 20
    reopened.close()


def test_one_unencodable_event_fails_alone(tmp_path: Path) -> None:
    def payload_of(event: AccessEvent) -> dict[str, object]:
        if event.request_id == "req-000002":
            raise ValueError("cannot encode")
        return evidence_payload(event, PSEUDONYMIZER)

    writer = OutboxWriter(tmp_path / "group.sqlite", payload_of, 1)

    async def append_all() -> list[object]:
        jobs = [writer.append(make_event(n)) for n in range(1, 5)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    outcomes = asyncio.run(append_all())
    writer.close()
    assert isinstance(outcomes[1], OutboxUnavailable)
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2, 3]
