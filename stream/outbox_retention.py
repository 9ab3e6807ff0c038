"""Bounded retention of the outbox: its rows hold raw patient and resource ids (for
enrichment), so a row goes once every consumer has confirmed it and it is older than the
retention (FHIR_EVIDENCE_OUTBOX_RETENTION_S, default one hour).

Confirmed means past the consumer's durable position: the inline processor commits its
position only after the evidence store stored the batch; the Kafka relay only after the
broker acknowledged it (the raw topic's own retention governs it from then on). A consumer
that never committed a position keeps every row; nothing unconfirmed is ever purged.

The chain continues across a purge: when the newest row goes, its sequence and hash stay in
the outbox's meta table as the chain's tip, and the writer continues from there.
"""

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from stream.outbox_db import chain_tip, open_outbox

Clock = Callable[[], float]  # seconds since the epoch
MAX_INTERVAL_S = 60.0


def purge_confirmed(conn: sqlite3.Connection, written_before_us: int) -> int:
    """Delete the rows every consumer has confirmed that were written before
    `written_before_us`; returns how many. Nothing goes while no consumer has a position."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT min(sequence) FROM positions").fetchone()
        confirmed = int(row[0] or 0)
        newest = conn.execute(
            "SELECT sequence, event_hash FROM outbox WHERE sequence <= ? AND written_us < ? "
            "ORDER BY sequence DESC LIMIT 1",
            (confirmed, written_before_us),
        ).fetchone()
        if newest is None:
            conn.execute("COMMIT")
            return 0
        if int(newest[0]) >= chain_tip(conn)[0]:  # the chain's newest row goes: keep its hash
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (("tip_seq", str(newest[0])), ("tip_hash", str(newest[1]))),
            )
        deleted = conn.execute(
            "DELETE FROM outbox WHERE sequence <= ? AND written_us < ?",
            (int(newest[0]), written_before_us),
        ).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(deleted)


class OutboxRetention:
    """Purges confirmed rows older than `retention_s`, at most every `interval_s` (a quarter
    of the retention, at most a minute); called by the outbox's consumer after it commits
    a position, on the consumer's thread (its own connection)."""

    def __init__(self, path: Path, retention_s: float, clock: Clock = time.time) -> None:
        self._conn = open_outbox(path)
        self.retention_s = retention_s
        self.interval_s = min(MAX_INTERVAL_S, retention_s / 4)
        self._clock = clock
        self._last = float("-inf")
        self.purged = 0

    def maybe_purge(self) -> int:
        now = self._clock()
        if now - self._last < self.interval_s:
            return 0
        self._last = now
        done = purge_confirmed(self._conn, int((now - self.retention_s) * 1_000_000))
        self.purged += done
        return done

    def close(self) -> None:
        self._conn.close()
