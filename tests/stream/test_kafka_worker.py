"""`fhir-evidence worker` as its own process: killed with SIGKILL mid-stream and restarted,
nothing is lost and no query shows a duplicate."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.evidence.builders import KEY
from tests.stream.kafka_support import (
    Pipeline,
    append,
    group_caught_up,
    new_config,
    open_writer,
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


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], env=env,
                                stdout=out, stderr=out)  # fmt: skip


def _log_says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


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
    env = dict(os.environ)
    env.update(
        FHIR_EVIDENCE_DATA_DIR=str(tmp_path / "worker"),
        FHIR_EVIDENCE_KAFKA_BOOTSTRAP=kafka_bootstrap,
        FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX=config.topic_prefix,
        FHIR_EVIDENCE_KAFKA_GROUP=config.app_id,
        FHIR_EVIDENCE_KAFKA_PARTITIONS=str(config.partitions),
        FHIR_EVIDENCE_HASH_KEY=KEY.decode(),
        FHIR_EVIDENCE_LOG_LEVEL="INFO",
    )
    log = tmp_path / "worker.log"
    first = _worker(env, log)
    try:
        wait_for(lambda: _log_says(log, "stream workers running"), timeout=90)
        pipeline = Pipeline(config, None, tmp_path / "outbox.sqlite", writer)  # type: ignore[arg-type]
        relay = pipeline.start_relay()
        wait_for(lambda: relay.lag() == 0, timeout=120)
        time.sleep(0.5)  # the worker is in the middle of the stream now
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = _worker(env, log)
        try:
            wait_for(lambda: log.read_text(errors="replace").count("stream workers running") >= 2,
                     timeout=90)  # fmt: skip
            topics = [config.names.raw, config.names.evidence]
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
