"""The write-ahead audit outbox: an append-only, hash-chained SQLite (WAL) log.

`OutboxWriter.append` returns only after the event is committed with fsync (synchronous=FULL),
so the API can release a response only once its evidence is durable. Appends from many
requests are group-committed by one writer thread. Sequence numbers are per producer (one
producer per data directory) and every row carries the chain hash of its pseudonymous payload.

Rows carry raw identifiers (for enrichment), so they do not stay: once every consumer has
confirmed a row (its position is past it) and the row is older than the retention, it is
purged (stream.outbox_retention). The chain continues across a
purge: the newest purged row's sequence and hash are kept as the chain's tip.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from evidence.core import (
    AccessEvent,
    EvidenceError,
    chain_hash_bytes,
    event_to_dict,
)
from stream.canonical import fast_canonical_bytes
from stream.outbox_db import chain_tip, open_outbox, producer_id_of

PayloadOf = Callable[[AccessEvent], dict[str, Any]]
ClockUs = Callable[[], int]  # microseconds since the epoch
Encoded = tuple[bytes, bytes]  # (canonical pseudonymous payload, raw event body)


def _now_us() -> int:
    return time.time_ns() // 1000


class OutboxUnavailable(EvidenceError):
    code = "outbox.unavailable"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One event as the event log carries it (the outbox, and the raw topic that relays it):
    the pseudonymous payload exactly as it was sealed, its place in the producer's chain,
    and the raw event (raw ids, for enrichment only; it never reaches the evidence store)."""

    sequence: int
    event: dict[str, Any]
    payload: bytes  # pseudonymous, canonical: exactly the bytes that were sealed
    prev_hash: str
    event_hash: str
    key_version: int
    producer_id: str


@dataclass(slots=True)
class _Pending:
    event: AccessEvent
    future: "asyncio.Future[int]"


class OutboxWriter:
    """Group-committing appender; one per data directory and process.

    Appends made in the same event-loop iteration are committed together by one callback
    on that loop: no thread hand-off on the request path. A commit is a few hundred
    microseconds of SQLite work including the fsync; several loops (threads) may share one
    writer, their commits serialised by a lock.
    """

    def __init__(
        self, path: Path, payload_of: PayloadOf, key_version: int, clock_us: ClockUs = _now_us
    ) -> None:
        self._conn = open_outbox(path)
        self.producer_id = producer_id_of(self._conn)
        self._payload_of = payload_of
        self._key_version = key_version
        self._clock_us = clock_us
        self._last_seq, self._last_hash = chain_tip(self._conn)
        self._pending: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self._write_lock = threading.Lock()
        self._committed = threading.Condition()
        self._closed = False
        self.writable = True  # the last commit succeeded (readiness: the `outbox` check)

    @property
    def last_sequence(self) -> int:
        return self._last_seq

    async def append(self, event: AccessEvent) -> int:
        if self._closed:
            raise OutboxUnavailable("the audit outbox is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._write_lock:
            waiting = self._pending.setdefault(loop, [])
            waiting.append(_Pending(event, future))
            if len(waiting) == 1:
                loop.call_soon(self._flush, loop)
        return await future

    def wait_for_commit(self, after: int, timeout: float) -> bool:
        """Block until a sequence beyond `after` is committed (for readers in this process)."""
        with self._committed:
            return self._committed.wait_for(lambda: self._last_seq > after, timeout)

    def close(self) -> None:
        with self._write_lock:
            self._closed, self.writable = True, False
            stranded = [p for group in self._pending.values() for p in group]
            self._pending.clear()
            self._conn.close()
        for pending in stranded:  # their loops are gone or stopping: fail them closed
            if not pending.future.done():
                with contextlib.suppress(RuntimeError):
                    pending.future.set_exception(OutboxUnavailable("the outbox closed"))

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._write_lock:
            group = self._pending.pop(loop, [])
            if not group:
                return
            if self._closed:
                results: dict[int, int] = {}
            else:
                results = self._commit_group(group)
        with self._committed:
            self._committed.notify_all()
        for pending in group:
            if pending.future.done():
                continue
            if id(pending) in results:
                pending.future.set_result(results[id(pending)])
            else:
                pending.future.set_exception(OutboxUnavailable("the outbox cannot be written"))

    def _commit_group(self, group: list[_Pending]) -> dict[int, int]:
        """Seal and commit; returns {id(pending): sequence} for what is durable."""
        accepted = [(p, encoded) for p in group if (encoded := self._encode(p)) is not None]
        try:
            sequences = self._write(accepted)
        except Exception:  # sqlite: every request of the group fails closed
            self.writable = False
            return {}
        self.writable = True
        return {id(p): seq for (p, _), seq in zip(accepted, sequences, strict=True)}

    def _encode(self, pending: _Pending) -> Encoded | None:
        """The payload to seal and the raw body; None when this one event cannot be encoded
        (only its own request fails, not the others of the group)."""
        try:
            payload = fast_canonical_bytes(self._payload_of(pending.event))
            return payload, orjson.dumps(event_to_dict(pending.event))
        except (TypeError, ValueError):
            return None

    def _write(self, accepted: list[tuple[_Pending, Encoded]]) -> list[int]:
        seq, prev, now_us = self._last_seq, self._last_hash, self._clock_us()
        rows = []
        for pending, (payload, body) in accepted:
            seq += 1
            event_hash = chain_hash_bytes(self.producer_id, seq, prev, payload)
            event_id = pending.event.event_id
            rows.append((seq, event_id, body, payload, prev, event_hash, self._key_version, now_us))
            prev = event_hash
        if not rows:
            return []
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO outbox (sequence, event_id, event, payload, prev_hash, event_hash, "
                "key_version, written_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._last_seq, self._last_hash = seq, prev
        return [row[0] for row in rows]


def _decode(body: bytes) -> dict[str, Any]:
    """An undecodable body becomes an empty event: the pipeline parks it as poison instead
    of failing the whole batch (which would stop the consumer at that row for good)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


class OutboxReader:
    """Reads the outbox in order and keeps a durable position per named consumer."""

    def __init__(self, path: Path, name: str) -> None:
        self._conn = open_outbox(path)
        self.name = name
        self.producer_id = producer_id_of(self._conn)

    def position(self) -> int:
        row = self._conn.execute(
            "SELECT sequence FROM positions WHERE name = ?", (self.name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def read_after(self, sequence: int, limit: int) -> list[OutboxRow]:
        cursor = self._conn.execute(
            "SELECT sequence, event, payload, prev_hash, event_hash, key_version FROM outbox "
            "WHERE sequence > ? ORDER BY sequence LIMIT ?",
            (sequence, limit),
        )
        producer = self.producer_id
        return [OutboxRow(s, _decode(e), p, ph, h, k, producer) for s, e, p, ph, h, k in cursor]

    def commit_position(self, sequence: int) -> None:
        self._conn.execute(
            "INSERT INTO positions VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET sequence = excluded.sequence",
            (self.name, sequence),
        )

    def prune_below(self, sequence: int) -> int:
        """Delete rows every consumer has passed, below `sequence`; the newest row always
        stays (the writer continues the chain from it). Returns the bound applied."""
        row = self._conn.execute("SELECT min(sequence), max(sequence) FROM positions").fetchone()
        last = self.last_sequence()
        bound = min(sequence, int(row[0] or 0), last)
        if bound > 0:
            self._conn.execute("DELETE FROM outbox WHERE sequence < ?", (bound,))
        return bound

    def park_dead_letter(self, sequence: int, code: str, detail: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?)",
            (self.name, sequence, code, detail),
        )

    def dead_letter_count(self) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM dead_letters WHERE consumer = ?", (self.name,)
        ).fetchone()
        return int(row[0])

    def last_sequence(self) -> int:
        return chain_tip(self._conn)[0]

    def close(self) -> None:
        self._conn.close()
