"""`serve --workers N` killed outright leaves no process behind, even when its stderr was a
pipe nobody reads any more (a supervisor run by a test or a shell that has gone)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve-process" in argv and f"{pid}".encode() in argv:
            found.append(int(entry.name))
    return found


def test_children_stop_when_the_supervisor_is_killed_and_stderr_is_gone(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "FHIR_EVIDENCE_DATA_DIR": str(tmp_path / "data"),
           "FHIR_EVIDENCE_WORKERS": "2"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "api.boot.cli", "serve", "--port", str(port), "--no-demo-data"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        children = _children_of(server.pid)
        assert len(children) == 3  # two API processes and the pipeline process
        assert server.stdout is not None and server.stderr is not None
        server.stdout.close()
        server.stderr.close()  # nobody reads their logs any more
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 30
        while _children_of(server.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _children_of(server.pid) == []
    finally:
        for pid in _children_of(server.pid):
            os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            server.kill()
