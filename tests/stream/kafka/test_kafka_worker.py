"""`fhir-evidence worker` as its own process: killed with SIGKILL mid-stream and restarted,
nothing is lost and no query shows a duplicate."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.stream.kafka.kafka_support import (
    Pipeline,
    append,
    group_caught_up,
    log_says,
    new_config,
    open_writer,
    start_worker,
    worker_env,
)
from tests.support import wait_for

pytestmark = pytest.mark.kafka
EVENTS = 30_000
COUNT_SCRIPT = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
q = lambda sql: int(client.command(sql))
print(json.dumps({
    "raw": q("SELECT count() FROM evidence.access_events"),
    "final": q("SELECT count() FROM evidence.access_events FINAL"),
    "distinct": q("SELECT uniqExact(event_id) FROM evidence.access_events"),
}))
"""


def _stored(data_dir: Path) -> dict[str, int]:
    path = str((data_dir / "evidence").resolve())
    out = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, path],
                         capture_output=True, check=True, timeout=120)  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = new_config(kafka_bootstrap)
    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(EVENTS))
    env = worker_env(kafka_bootstrap, config, tmp_path / "worker")
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    try:
        wait_for(lambda: log_says(log, "stream workers running"), timeout=90)
        pipeline = Pipeline(config, None, tmp_path / "outbox.sqlite", writer)  # type: ignore[arg-type]
        relay = pipeline.start_relay()
        wait_for(lambda: relay.lag() == 0, timeout=120)
        time.sleep(0.5)  # the worker is in the middle of the stream now
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = start_worker(env, log)
        try:
            wait_for(lambda: log.read_text(errors="replace").count("stream workers running") >= 2,
                     timeout=90)  # fmt: skip
            topics = [config.names.raw]
            wait_for(lambda: group_caught_up(kafka_bootstrap, config.app_id, topics),
                     timeout=180, interval=1.0)  # fmt: skip
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
        relay.stop()
    finally:
        if first.poll() is None:
            first.kill()
        writer.close()
    counts = _stored(tmp_path / "worker")
    assert counts["final"] == counts["distinct"] == EVENTS, counts
