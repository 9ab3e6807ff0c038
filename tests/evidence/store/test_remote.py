"""The store bridge of `serve --workers N` (evidence.store.remote): an EvidenceStore over a
RemoteClient answers as the store behind the StoreServer does, on a real chDB store; a wrong
key, a call the bridge does not know, a failing store, a peer that is gone and a peer that
is stuck are each a StoreUnavailable with a code saying which, in bounded time, never a
hang; the next call after a failure connects again."""

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Listener
from pathlib import Path

import pytest

from evidence.core.errors import StoreUnavailable
from evidence.store import EvidenceStore
from evidence.store.remote import RemoteClient, RemoteUnavailable, StoreServer, remote_store
from tests.evidence.builders import chain_of

KEY = b"bridge-test-key-0123456789abcdef"


@pytest.fixture
def rundir() -> Iterator[Path]:
    """A short private directory (a Unix socket's path has at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="bridge-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bridge(evidence_store: EvidenceStore, rundir: Path) -> Iterator[str]:
    address = str(rundir / "store.sock")
    server = StoreServer(evidence_store, address, KEY)
    server.start()
    yield address
    server.stop()


def _code(call: object) -> str:
    with pytest.raises(StoreUnavailable) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_calls_are_answered_by_the_store_behind_the_bridge(
    evidence_store: EvidenceStore, bridge: str
) -> None:
    remote = remote_store(bridge, KEY, evidence_store.database)
    remote.insert_rows(chain_of(3), dedup_token="bridge-1")  # raw_insert with settings
    assert remote.count_events() == 3 == evidence_store.count_events()  # query
    remote.save_state("k", "state-1", 1)  # raw_insert, JSONEachRow
    assert remote.load_state("k") == "state-1"
    assert remote.raw_command("SELECT 40 + 2") == 42  # command
    remote.close()


def test_a_wrong_key_is_refused_and_the_right_one_still_served(
    evidence_store: EvidenceStore, bridge: str
) -> None:
    stranger = remote_store(bridge, b"not-the-key-0123456789abcdef0123", evidence_store.database)
    assert _code(stranger.count_events) == "store.bridge.auth"
    assert remote_store(bridge, KEY, evidence_store.database).count_events() == 0


def test_an_unknown_call_and_a_failing_store_answer_without_detail(
    evidence_store: EvidenceStore, bridge: str
) -> None:
    client = RemoteClient(bridge, KEY)
    with pytest.raises(RemoteUnavailable, match="unknown call") as caught:
        client._call("drop_everything")
    assert caught.value.code == "store.bridge.failed"
    remote = EvidenceStore(client, evidence_store.database)  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable) as failed:
        remote.raw_command("SELECT * FROM no_such_database.no_such_table")
    assert failed.value.code == "store.bridge.failed"
    assert "no_such" not in str(failed.value)  # no SQL, no engine message
    assert remote.count_events() == 0  # the connection still serves


def test_no_peer_at_the_address_is_unreachable_at_once(rundir: Path) -> None:
    started = time.monotonic()
    client = RemoteClient(str(rundir / "gone.sock"), KEY, timeout_s=30)
    assert _code(lambda: client.query("SELECT 1")) == "store.bridge.unreachable"
    assert time.monotonic() - started < 5


def test_a_peer_that_dies_during_a_call_is_unreachable(rundir: Path) -> None:
    address = str(rundir / "dying.sock")
    listener = Listener(address, family="AF_UNIX", authkey=KEY)

    def die_on_first_call() -> None:
        with listener.accept() as conn:
            conn.recv()  # the call arrives; the peer ends without answering

    threading.Thread(target=die_on_first_call, daemon=True).start()
    client = RemoteClient(address, KEY, timeout_s=30)
    started = time.monotonic()
    assert _code(lambda: client.query("SELECT 1")) == "store.bridge.unreachable"
    assert time.monotonic() - started < 5
    listener.close()


def test_a_peer_that_accepts_and_never_answers_is_a_timeout(rundir: Path) -> None:
    address = str(rundir / "stuck.sock")
    listener = Listener(address, family="AF_UNIX", authkey=KEY)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    client = RemoteClient(address, KEY, timeout_s=0.5)
    started = time.monotonic()
    assert _code(lambda: client.query("SELECT 1")) == "store.bridge.timeout"
    assert time.monotonic() - started < 5
    listener.close()


def test_a_peer_stuck_before_the_handshake_is_a_timeout(rundir: Path) -> None:
    """A process that holds the socket but never accepts (stopped, or its accept thread
    stuck): the connection waits in the backlog, the challenge never comes."""
    address = str(rundir / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(address)
        silent.listen(8)
        client = RemoteClient(address, KEY, timeout_s=0.5)
        started = time.monotonic()
        assert _code(lambda: client.query("SELECT 1")) == "store.bridge.timeout"
        assert time.monotonic() - started < 5


def test_the_next_call_after_a_failure_connects_again(
    evidence_store: EvidenceStore, rundir: Path
) -> None:
    """The pipeline process restarted: a new server on the same address serves the client
    that failed on the old one."""
    address = str(rundir / "store.sock")
    remote = remote_store(address, KEY, evidence_store.database)
    assert _code(remote.count_events) == "store.bridge.unreachable"  # not started yet
    server = StoreServer(evidence_store, address, KEY)
    server.start()
    try:
        assert remote.count_events() == 0
    finally:
        server.stop()
