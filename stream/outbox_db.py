"""The outbox's SQLite database: its schema, how it is opened, and where its chain stands."""

import contextlib
import sqlite3
import uuid
from pathlib import Path

from evidence.core import GENESIS_HASH

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    sequence INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event BLOB NOT NULL,
    payload BLOB NOT NULL,
    prev_hash TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    written_us INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS positions (name TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer TEXT NOT NULL, sequence INTEGER NOT NULL, code TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (consumer, sequence)
);
"""


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def open_outbox(path: Path) -> sqlite3.Connection:
    """The outbox database with its current schema (written_us added to older files: their
    rows count as written long ago)."""
    conn = connect(path)
    conn.executescript(_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
    if "written_us" not in columns:
        with contextlib.suppress(sqlite3.OperationalError):  # another opener added it first
            conn.execute("ALTER TABLE outbox ADD COLUMN written_us INTEGER NOT NULL DEFAULT 0")
    return conn


def chain_tip(conn: sqlite3.Connection) -> tuple[int, str]:
    """(sequence, hash) of the chain's newest row: in the table, or kept by a purge."""
    last = conn.execute(
        "SELECT sequence, event_hash FROM outbox ORDER BY sequence DESC LIMIT 1"
    ).fetchone()
    if last:
        return int(last[0]), str(last[1])
    kept = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('tip_seq', 'tip_hash')"))
    if "tip_seq" in kept:
        return int(kept["tip_seq"]), str(kept["tip_hash"])
    return 0, GENESIS_HASH


def producer_id_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'producer_id'").fetchone()
    if row:
        return str(row[0])
    # Another process may open the new file at the same moment (the pipeline's fan-in finding
    # an outbox its API process is creating): the first id written is the producer's.
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('producer_id', ?)",
                 (f"api-{uuid.uuid4().hex[:12]}",))  # fmt: skip
    return str(conn.execute("SELECT value FROM meta WHERE key = 'producer_id'").fetchone()[0])
