"""The evidence store of another process on this machine: chDB allows one process per store,
so with `serve --workers N` the pipeline process opens it and the API processes reach it
through this narrow bridge (a clickhouse-connect-shaped client over a Unix socket).

`StoreServer` runs in the process that holds the store: one thread accepts, one thread per
connection answers the client calls an `EvidenceStore` makes (`query`, `command`,
`raw_query`, `raw_insert`), serialised with the store's own calls by its lock. The peer is
authenticated by an HMAC challenge on a key both processes derive from the hash key
(`multiprocessing.connection`), and the socket lives in a private (0700) directory; only
then are messages unpickled. `RemoteClient` is what `EvidenceStore(RemoteClient(...))` calls
in the API processes; a failure of the bridge is a StoreUnavailable with a code saying which
(`store.bridge.unreachable`, `.timeout`, `.auth`, `.failed`). Every read of the client's
socket is bounded (SO_RCVTIMEO), the handshake's too: a peer that is gone or stuck is an
error after `timeout_s`, never a hang.
"""

import contextlib
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import (
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any

import structlog

from evidence.core.errors import StoreUnavailable
from evidence.store.clickhouse import EvidenceStore

log = structlog.get_logger("fhir_evidence.store.remote")
CALLS = frozenset({"query", "command", "raw_query", "raw_insert"})


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """The part of a clickhouse-connect QueryResult the store reads."""

    column_names: Sequence[str]
    result_rows: Sequence[Sequence[Any]]


class RemoteUnavailable(StoreUnavailable):
    """The bridge or the store behind it failed; `code` says which (see the module)."""

    code = "store.bridge.failed"


class StoreServer:
    def __init__(self, store: EvidenceStore, address: str, authkey: bytes) -> None:
        self._store = store
        Path(address).unlink(missing_ok=True)  # left by a predecessor that was killed
        self._listener = Listener(address, family="AF_UNIX", authkey=authkey)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="store-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                return  # closed by stop()
            except Exception:  # a peer that failed the challenge, or hung up during it
                log.warning("store bridge: a connection was refused", exc_info=True)
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    name, args, kwargs = conn.recv()
                except (EOFError, OSError):
                    return
                answer = self._answer(name, args, kwargs)
                try:
                    conn.send(answer)
                except OSError:  # the peer went away while its call ran
                    return

    def _answer(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        if name not in CALLS:
            return False, "unknown call"
        try:
            result = self._store.client_call(lambda c: getattr(c, name)(*args, **kwargs))
        except Exception as exc:  # the store's failure travels as a value; no detail leaks
            log.warning("store bridge: a call failed", call=name, error=type(exc).__name__)
            return False, "the evidence store failed"
        if name == "query":
            return True, RemoteResult(list(result.column_names), list(result.result_rows))
        return True, result

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()


class RemoteClient:
    """One connection to a StoreServer, (re)opened on demand; calls are serialised by the
    EvidenceStore that owns this client."""

    def __init__(self, address: str, authkey: bytes, timeout_s: float = 60.0) -> None:
        self._address, self._authkey, self._timeout_s = address, authkey, timeout_s
        self._conn: Connection | None = None

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._conn is None:
                self._conn = connect(self._address, self._authkey, self._timeout_s)
            self._conn.send((name, args, kwargs))
            if not self._conn.poll(self._timeout_s):
                raise RemoteUnavailable("the evidence store did not answer in time",
                                        code="store.bridge.timeout")  # fmt: skip
            ok, value = self._conn.recv()
        except RemoteUnavailable:
            self.close()  # the next call connects again (the pipeline process restarted)
            raise
        except (OSError, EOFError) as exc:
            self.close()
            timeout = isinstance(exc, (TimeoutError, BlockingIOError))
            raise RemoteUnavailable(
                "the evidence store process did not answer in time" if timeout
                else "the evidence store process cannot be reached",
                code="store.bridge.timeout" if timeout else "store.bridge.unreachable",
            ) from exc  # fmt: skip
        if not ok:
            raise RemoteUnavailable(str(value))
        return value

    def query(self, sql: str, **kwargs: Any) -> RemoteResult:
        result: RemoteResult = self._call("query", sql, **kwargs)
        return result

    def command(self, sql: str, **kwargs: Any) -> Any:
        return self._call("command", sql, **kwargs)

    def raw_query(self, sql: str, **kwargs: Any) -> bytes:
        return bytes(self._call("raw_query", sql, **kwargs))

    def raw_insert(self, table: str, **kwargs: Any) -> None:
        self._call("raw_insert", table, **kwargs)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None


def connect(address: str, authkey: bytes, timeout_s: float) -> Connection:
    """A connection to a StoreServer, authenticated both ways, every read of it bounded by
    `timeout_s` (a stuck peer: TimeoutError or BlockingIOError, both OSError)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(address)
        sock.setblocking(True)
        seconds = int(timeout_s)
        bound = struct.pack("ll", seconds, int((timeout_s - seconds) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bound)
        conn = Connection(sock.detach())
    finally:
        sock.close()  # detached: closes nothing
    try:
        answer_challenge(conn, authkey)
        deliver_challenge(conn, authkey)
    except AuthenticationError as exc:
        conn.close()
        raise RemoteUnavailable("the evidence store process refused this process's key",
                                code="store.bridge.auth") from exc  # fmt: skip
    except BaseException:
        conn.close()
        raise
    return conn


def remote_store(address: str, authkey: bytes, database: str = "evidence") -> EvidenceStore:
    """The store another process holds (its schema is that process's business)."""
    return EvidenceStore(RemoteClient(address, authkey), database)  # type: ignore[arg-type]
