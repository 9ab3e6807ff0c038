"""`serve --workers N` killed outright leaves no process behind, even when its stderr was a
pipe nobody reads any more (a supervisor run by a test or a shell that has gone)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import free_port, serve_children, wait_for


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_children_stop_when_the_supervisor_is_killed_and_stderr_is_gone(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "FHIR_EVIDENCE_DATA_DIR": str(tmp_path / "data"),
           "FHIR_EVIDENCE_WORKERS": "2"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "api.boot.cli", "serve", "--port", str(port), "--no-demo-data"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: _ready(port), timeout=90, interval=0.2)
        assert sorted(serve_children(server.pid).values()) == ["api", "api", "pipeline"]
        assert server.stdout is not None and server.stderr is not None
        server.stdout.close()
        server.stderr.close()  # nobody reads their logs any more
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        wait_for(lambda: not serve_children(server.pid), timeout=30, interval=0.2)
    finally:
        for pid in serve_children(server.pid):
            os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            server.kill()
