"""The durable alert-webhook delivery queue: one SQLite (WAL, synchronous=FULL) file.

A delivery is one POST of one alert body. It is `pending` until the webhook accepts it
(`delivered`) or until `max_attempts` attempts failed (`dead`). Dead deliveries are kept and
counted, never dropped; an operator can put them back with `requeue_dead`. Every change is
committed with fsync before the call returns, so a queue opened again on the same file (after
a restart or a crash) sees every delivery still pending.

Enqueueing is idempotent on the delivery id: the same id twice is stored once. An alert that
is updated later is enqueued again under a new delivery id (e.g. `<alert id>:<version>`).

The queue is shared between threads (producers enqueue, one deliverer sends); one connection
guarded by a lock. Every sqlite3 error leaves as `WebhookQueueError` with a short code.
"""

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evidence.core import EvidenceError

Status = Literal["pending", "delivered", "dead"]
DEFAULT_MAX_ATTEMPTS = 50
MAX_ERROR_CODE_CHARS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    delivered_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (status, next_attempt_at);
"""


class WebhookQueueError(EvidenceError):
    """The delivery queue cannot be read or written (code `webhook.queue_unavailable`)."""

    code = "webhook.queue_unavailable"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending delivery as handed to the deliverer."""

    delivery_id: str
    body: bytes
    attempts: int  # attempts made so far (0 for a fresh one)
    created_at: float
    next_attempt_at: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The full state of one delivery, for operators and tests (`WebhookQueue.get`)."""

    delivery_id: str
    status: Status
    attempts: int
    created_at: float
    next_attempt_at: float
    last_attempt_at: float | None
    delivered_at: float | None
    last_error: str | None


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise WebhookQueueError(f"webhook queue: cannot {action}") from exc


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class WebhookQueue:
    """Durable, idempotent delivery queue at `path` (created when missing)."""

    def __init__(self, path: Path, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.path = Path(path)
        self.max_attempts = max_attempts
        self._lock = threading.Lock()
        with _translated("open"):
            self._conn = _connect(self.path)
            self._conn.executescript(_SCHEMA)

    def enqueue(self, delivery_id: str, body: bytes, now: float) -> bool:
        """Store a delivery due at `now`; True when new, False when the id was already known
        (whatever its state: a delivered or dead delivery is not re-armed by this)."""
        if not delivery_id:
            raise ValueError("delivery_id must not be empty")
        with self._lock, _translated("enqueue"):
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO webhook_deliveries "
                "(delivery_id, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
                (delivery_id, bytes(body), now, now),
            )
            return cursor.rowcount == 1

    def due(self, now: float, limit: int = 20) -> list[Delivery]:
        """Pending deliveries whose next attempt is at or before `now`, oldest due first."""
        with self._lock, _translated("read due deliveries"):
            rows = self._conn.execute(
                "SELECT delivery_id, body, attempts, created_at, next_attempt_at "
                "FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, created_at, delivery_id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Delivery(str(d), bytes(b), int(a), float(c), float(n)) for d, b, a, c, n in rows]

    def next_due_at(self) -> float | None:
        """When the earliest pending delivery is due; None when nothing is pending."""
        with self._lock, _translated("read due deliveries"):
            row = self._conn.execute(
                "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def mark_delivered(self, delivery_id: str, now: float) -> bool:
        """Record a successful attempt; True when a pending delivery became delivered."""
        with self._lock, _translated("mark a delivery"):
            cursor = self._conn.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
                "last_attempt_at = ?, delivered_at = ?, last_error = NULL "
                "WHERE delivery_id = ? AND status = 'pending'",
                (now, now, delivery_id),
            )
            return cursor.rowcount == 1

    def mark_failed(
        self, delivery_id: str, now: float, next_attempt_at: float, error_code: str
    ) -> Status | None:
        """Record a failed attempt. The delivery stays pending until `next_attempt_at`, or
        becomes `dead` when this was attempt number `max_attempts`. Returns the new status
        (None when no pending delivery has that id)."""
        code = error_code[:MAX_ERROR_CODE_CHARS]
        with self._lock, _translated("mark a delivery"):
            row = self._conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = ?, "
                "next_attempt_at = ?, last_error = ?, "
                "status = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE 'pending' END "
                "WHERE delivery_id = ? AND status = 'pending' RETURNING status",
                (now, next_attempt_at, code, self.max_attempts, delivery_id),
            ).fetchone()
        return None if row is None else row[0]

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        with self._lock, _translated("read a delivery"):
            row = self._conn.execute(
                "SELECT delivery_id, status, attempts, created_at, next_attempt_at, "
                "last_attempt_at, delivered_at, last_error "
                "FROM webhook_deliveries WHERE delivery_id = ?",
                (delivery_id,),
            ).fetchone()
        return None if row is None else DeliveryRecord(*row)

    def counts(self) -> dict[Status, int]:
        """Deliveries per status (every status present, zero included)."""
        with self._lock, _translated("count deliveries"):
            rows = self._conn.execute(
                "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
            ).fetchall()
        counts: dict[Status, int] = {"pending": 0, "delivered": 0, "dead": 0}
        for status, count in rows:
            if status in counts:
                counts[status] = int(count)
        return counts

    def pending_count(self) -> int:
        return self.counts()["pending"]

    def dead_count(self) -> int:
        return self.counts()["dead"]

    def dead(self, limit: int = 100) -> list[DeliveryRecord]:
        """Dead deliveries, most recent attempt first (bodies are not returned)."""
        with self._lock, _translated("read dead deliveries"):
            rows = self._conn.execute(
                "SELECT delivery_id, status, attempts, created_at, next_attempt_at, "
                "last_attempt_at, delivered_at, last_error FROM webhook_deliveries "
                "WHERE status = 'dead' ORDER BY last_attempt_at DESC, delivery_id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeliveryRecord(*row) for row in rows]

    def requeue_dead(self, now: float) -> int:
        """Give every dead delivery a fresh set of attempts, due at `now`; returns how many."""
        with self._lock, _translated("requeue dead deliveries"):
            cursor = self._conn.execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                "next_attempt_at = ? WHERE status = 'dead'",
                (now,),
            )
            return cursor.rowcount

    def prune_delivered(self, before: float) -> int:
        """Delete deliveries delivered before `before` (pending and dead ones always stay)."""
        with self._lock, _translated("prune deliveries"):
            cursor = self._conn.execute(
                "DELETE FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < ?",
                (before,),
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock, _translated("close"):
            self._conn.close()
