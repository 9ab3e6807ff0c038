"""Bounded retention of the outbox (stream.outbox_retention): rows go once every consumer has
confirmed them and they are older than the retention, never before; the chain continues
across a purge (even one that empties the table); older outbox files gain the column. And
the embedded runtime purges what its inline processor stored."""

import asyncio
import sqlite3
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core import GENESIS_HASH, chain_hash, event_from_dict
from evidence.core.record import evidence_payload
from stream.outbox import OutboxReader, OutboxWriter
from stream.outbox_retention import OutboxRetention, purge_confirmed
from tests.evidence.builders import PSEUDONYMIZER, make_event

T0_US = 1_700_000_000_000_000


class Clock:
    def __init__(self) -> None:
        self.us = T0_US

    def __call__(self) -> int:
        return self.us


def writer_at(path: Path, clock: Clock) -> OutboxWriter:
    return OutboxWriter(path, lambda e: evidence_payload(e, PSEUDONYMIZER), 1, clock_us=clock)


def append(writer: OutboxWriter, first: int, count: int) -> None:
    async def run() -> None:
        for n in range(first, first + count):
            await writer.append(make_event(n))

    asyncio.run(run())


def sequences(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [int(r[0]) for r in db.execute("SELECT sequence FROM outbox ORDER BY sequence")]


def test_only_confirmed_rows_older_than_the_retention_go(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite", Clock()
    writer = writer_at(path, clock)
    append(writer, 1, 10)  # written at T0
    clock.us += 100_000_000
    append(writer, 11, 10)  # written at T0 + 100 s
    fast, slow = OutboxReader(path, "fast"), OutboxReader(path, "slow")
    conn = fast._conn
    assert purge_confirmed(conn, T0_US + 10**12) == 0  # no consumer confirmed anything yet
    fast.commit_position(20)
    slow.commit_position(5)
    assert purge_confirmed(conn, T0_US) == 0  # nothing older than the bound
    assert purge_confirmed(conn, T0_US + 1) == 5  # the slow consumer has confirmed 1..5
    assert sequences(path) == list(range(6, 21))
    slow.commit_position(20)
    assert purge_confirmed(conn, T0_US + 1) == 5  # 6..10: old enough; 11..20 are not
    assert sequences(path) == list(range(11, 21))
    writer.close()


def test_the_chain_continues_across_a_purge_that_empties_the_outbox(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite", Clock()
    writer = writer_at(path, clock)
    append(writer, 1, 5)
    with sqlite3.connect(path) as db:
        tip_hash = db.execute("SELECT event_hash FROM outbox WHERE sequence = 5").fetchone()[0]
    reader = OutboxReader(path, "inline-processor")
    reader.commit_position(5)
    assert purge_confirmed(reader._conn, T0_US + 1) == 5
    assert sequences(path) == [] and reader.last_sequence() == 5
    append(writer, 6, 1)  # the running writer continues
    writer.close()
    reopened = writer_at(path, clock)  # and so does a restarted one
    assert reopened.last_sequence == 6
    append(reopened, 7, 1)
    rows = reader.read_after(5, 10)
    assert [r.sequence for r in rows] == [6, 7]
    assert rows[0].prev_hash == tip_hash and rows[1].prev_hash == rows[0].event_hash
    for row in rows:
        payload = evidence_payload(event_from_dict(row.event), PSEUDONYMIZER)
        assert chain_hash(reopened.producer_id, row.sequence, row.prev_hash, payload) == (
            row.event_hash
        )
    reopened.close()


@settings(max_examples=30, deadline=None)
@given(
    written=st.lists(st.integers(0, 1000), min_size=1, max_size=25),
    positions=st.lists(st.integers(0, 30), min_size=0, max_size=3),
    bound=st.integers(0, 1200),
)
def test_purge_removes_exactly_the_confirmed_and_expired(
    tmp_path_factory: object, written: list[int], positions: list[int], bound: int
) -> None:
    """Against a model: a row stays iff a consumer has not confirmed it or it is not older
    than the bound; the tip is always the newest sequence ever written."""
    path = Path(tmp_path_factory.mktemp("purge")) / "outbox.sqlite"  # type: ignore[attr-defined]
    clock = Clock()
    writer = writer_at(path, clock)
    for n, offset_s in enumerate(sorted(written), start=1):
        clock.us = T0_US + offset_s * 1_000_000
        append(writer, n, 1)
    readers = [OutboxReader(path, f"c{i}") for i in range(len(positions))]
    for reader, position in zip(readers, positions, strict=True):
        reader.commit_position(position)
    inspector = OutboxReader(path, "inspector-without-position")
    purge_confirmed(inspector._conn, T0_US + bound * 1_000_000)
    confirmed = min(positions, default=0)
    times = dict(enumerate(sorted(written), start=1))
    kept = [s for s, t in times.items() if not (s <= confirmed and t < bound)]
    assert sequences(path) == kept
    assert inspector.last_sequence() == len(written) == writer.last_sequence
    writer.close()


def test_retention_runs_at_most_every_interval(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite", Clock()
    writer = writer_at(path, clock)
    append(writer, 1, 3)
    OutboxReader(path, "consumer").commit_position(3)
    now = [T0_US / 1e6 + 10.0]
    retention = OutboxRetention(path, 8.0, clock=lambda: now[0])
    assert retention.interval_s == 2.0
    assert retention.maybe_purge() == 3
    append(writer, 4, 1)
    OutboxReader(path, "consumer").commit_position(4)
    now[0] += 1.0
    assert retention.maybe_purge() == 0  # within the interval: not even looked at
    now[0] += 20.0
    assert retention.maybe_purge() == 1 and retention.purged == 4
    writer.close()


def test_an_older_outbox_file_gains_the_written_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE outbox (sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
            " event BLOB NOT NULL, payload BLOB NOT NULL, prev_hash TEXT NOT NULL,"
            " event_hash TEXT NOT NULL, key_version INTEGER NOT NULL);"
        )
        db.execute("INSERT INTO outbox VALUES (1, 'e1', '{}', x'00', ?, 'h1', 1)", (GENESIS_HASH,))
    writer = writer_at(path, Clock())
    assert writer.last_sequence == 1
    reader = OutboxReader(path, "c")
    reader.commit_position(1)
    assert purge_confirmed(reader._conn, T0_US) == 1  # an old row counts as written long ago
    writer.close()


def test_the_embedded_runtime_purges_what_it_stored(tmp_path: Path, chdb_client: object) -> None:
    """Serve's inline processor: rows stored in the evidence store leave the outbox after
    the retention (0 here), the newest one's hash kept; nothing unstored goes."""
    import uuid

    from api.boot.runtime import build_runtime
    from api.settings import Settings
    from evidence.store import EvidenceStore

    settings = Settings(data_dir=tmp_path / "data", outbox_retention_s=0)
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
    store.apply_schema()
    runtime = build_runtime(settings, demo_data=False, store=store, inline=True)
    try:
        append(runtime.outbox, 1, 5)
        assert runtime.processor is not None
        assert runtime.processor.process_available() == 5
        deadline = time.monotonic() + 5
        while sequences(tmp_path / "data/outbox.sqlite") and time.monotonic() < deadline:
            runtime.processor.process_available()
            time.sleep(0.05)
        assert sequences(tmp_path / "data/outbox.sqlite") == []
        assert runtime.processor.retention is not None and runtime.processor.retention.purged == 5
    finally:
        runtime.stop()
        store.raw_command(f"DROP DATABASE IF EXISTS {store.database}")
