"""A real PostgreSQL server for tests, run by scripts/postgres.sh (Debian's server binaries,
initdb in a state directory, a loopback port, an unprivileged user), and fresh databases on
it. The server keeps its port, data and DSN across stop/start, so a test can take it away and
bring the same one back."""

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.server_scripts import ServerScriptError, run_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
URL_VARIABLE = "FHIR_EVIDENCE_TEST_POSTGRES_URL"


class PostgresServerError(ServerScriptError):
    """scripts/postgres.sh could not install, start or stop the server."""


class PostgresServer:
    """One server with its state (cluster, log, port, DSN) in `state_dir`, which the server's
    unprivileged user must be able to reach (a `mktemp -d` directory)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def _run(self, command: str, timeout: float) -> str:
        return run_script(
            SCRIPT, command, self.state_dir, timeout, "POSTGRES_WATCH_PID", PostgresServerError
        )

    def start(self) -> str:
        """Start (or start again: same port, data and DSN) and return the DSN once it answers."""
        return self._run("start", 120)

    def stop(self) -> None:
        self._run("stop", 90)

    @property
    def running(self) -> bool:
        try:
            self._run("status", 30)
        except PostgresServerError:
            return False
        return True

    @property
    def dsn(self) -> str:
        return (self.state_dir / "dsn").read_text().strip()


def with_database(dsn: str, database: str) -> str:
    """The DSN (a postgresql:// URL) naming another database of the same server."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def create_database(server_dsn: str) -> tuple[str, str]:
    """A new empty database: (its name, its DSN)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, with_database(server_dsn, name)


def drop_database(server_dsn: str, name: str) -> None:
    if not re.fullmatch(r"t_[0-9a-f]{16}", name):
        raise ValueError(f"not a test database: {name!r}")
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


@contextlib.contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """The DSN of a new empty database, dropped afterwards."""
    name, dsn = create_database(server_dsn)
    try:
        yield dsn
    finally:
        drop_database(server_dsn, name)


class RecycledDatabases:
    """Databases emptied for reuse (every row deleted but the migrations' record), for suites
    that open a fresh store per example: emptying one takes a few milliseconds, creating one
    a hundred. Their commits do not wait for the WAL flush (synchronous_commit off)."""

    def __init__(self, server_dsn: str) -> None:
        self.server_dsn = server_dsn
        self._free: list[str] = []
        self._names: list[str] = []

    @contextlib.contextmanager
    def empty(self) -> Iterator[str]:
        """The DSN of an empty database (its schema left as the last user migrated it)."""
        if self._free:
            dsn = self._free.pop()
            with psycopg.connect(dsn) as conn:  # one transaction
                tables = conn.execute(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
                ).fetchall()
                for (table,) in tables:  # DELETE: on a few rows far quicker than TRUNCATE
                    conn.execute(f"DELETE FROM {table}".encode())
        else:
            name, dsn = create_database(self.server_dsn)
            with psycopg.connect(self.server_dsn, autocommit=True) as conn:
                # These stores live for one example: no need to wait for each WAL flush.
                alter = sql.SQL("ALTER DATABASE {} SET synchronous_commit TO off")
                conn.execute(alter.format(sql.Identifier(name)))
            self._names.append(name)
        try:
            yield dsn
        finally:
            self._free.append(dsn)

    def drop_all(self) -> None:
        for name in self._names:
            drop_database(self.server_dsn, name)
        self._names.clear()
        self._free.clear()
