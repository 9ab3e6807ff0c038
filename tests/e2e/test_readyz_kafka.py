"""/readyz of `serve` (API, relay and workers in one process) and of `worker` (on its metrics
listener) while a broker of this test's own goes away (stopped, then killed -9) and comes
back: 503 naming `kafka` soon after, 200 again after the start. Prints the times measured."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import _kafka_unavailable
from tests.kafka_broker import KafkaBroker, KafkaBrokerError
from tests.support import ServerProcess, TestIssuer, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


def ready(url: str) -> tuple[int, list[str]]:
    try:
        response = httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return 0, []
    return response.status_code, response.json().get("failing", [])


def until(check: Callable[[], bool], timeout: float) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, "not reached in time"
        time.sleep(0.1)
    return time.monotonic() - began


def test_readyz_follows_the_broker(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    try:
        bootstrap = broker.start()
    except KafkaBrokerError as exc:
        _kafka_unavailable(f"no broker of its own: {exc.summary}")
    prefix = f"ready{uuid.uuid4().hex[:6]}."
    env = {"FHIR_EVIDENCE_KAFKA_BOOTSTRAP": bootstrap, "FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX": prefix,
           "FHIR_EVIDENCE_KAFKA_GROUP": f"{prefix}group"}  # fmt: skip
    server = ServerProcess(tmp_path / "serve", TestIssuer(), extra_env=env).start(timeout=120)
    metrics_port = free_port()
    worker_env = dict(os.environ, **env, FHIR_EVIDENCE_DATA_DIR=str(tmp_path / "worker"),
                      FHIR_EVIDENCE_WORKER_METRICS_PORT=str(metrics_port))  # fmt: skip
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "api.boot.cli", "worker"],
                              env=worker_env, stdout=log, stderr=log)  # fmt: skip
    urls = {"serve": server.base_url, "worker": f"http://127.0.0.1:{metrics_port}"}
    try:
        for name, url in urls.items():
            took = until(lambda u=url: ready(u)[0] == 200, 120)  # type: ignore[misc]
            print(f"{name}: ready {took:.1f} s after it answered")
        assert httpx.get(f"{urls['worker']}/livez").json() == {"status": "ok"}
        asked = time.monotonic()
        broker.stop()  # a controlled shutdown: returns once the broker's process has ended
        stopped = time.monotonic()
        for name, url in urls.items():
            until(lambda u=url: "kafka" in ready(u)[1], 60)  # type: ignore[misc]
            status, failing = ready(url)
            assert status == 503 and set(failing) <= {"kafka", "relay", "workers"}, failing
            print(
                f"{name}: /readyz named kafka {time.monotonic() - stopped:.1f} s after the "
                f"broker's process ended ({stopped - asked:.1f} s after the stop was asked)"
            )
        assert httpx.get(f"{urls['serve']}/livez").status_code == 200  # alive all the same
        broker.start()  # returns once the broker answers requests
        for name, url in urls.items():
            took = until(lambda u=url: ready(u)[0] == 200, 120)  # type: ignore[misc]
            print(f"{name}: ready again {took:.1f} s after the broker answered")
        broker.kill()  # a crash: no connection is closed cleanly, the heartbeats time out
        killed = time.monotonic()
        for name, url in urls.items():
            until(lambda u=url: "kafka" in ready(u)[1], 60)  # type: ignore[misc]
            print(f"{name}: /readyz named kafka {time.monotonic() - killed:.1f} s after kill -9")
        broker.start()
        for name, url in urls.items():
            took = until(lambda u=url: ready(u)[0] == 200, 120)  # type: ignore[misc]
            print(f"{name}: ready again {took:.1f} s after the killed broker answered")
        assert worker.poll() is None and server.process is not None
        assert server.process.poll() is None
    finally:
        worker.terminate()
        worker.wait(60)
        server.terminate()
        broker.stop()
