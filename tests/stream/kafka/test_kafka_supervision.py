"""Supervision of the Kafka pipeline on the real broker: an agent whose batch fails in a way
no retry covers hands the error on (the process exits 70) and commits nothing of the batch;
the stream-workers thread killed is restarted by the watchdog; topics of the wrong shape end
it with a fatal error (exit code 78)."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from api.boot.health import PipelineHealth, Supervised
from stream.health import Health
from stream.kafka.admin import TopologyMismatch
from stream.kafka.agents import AlertOutbox
from stream.kafka.app import WorkerHost, build_faust_app
from stream.kafka.relay import kafka_relay
from stream.outbox import OutboxReader
from stream.step import EvidenceStep
from stream.supervision import Watchdog
from tests.stream.kafka.kafka_support import append, group_caught_up, new_config, open_writer
from tests.support import wait_for

THREAD_DIED = "ignore::pytest.PytestUnhandledThreadExceptionWarning"
pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings(THREAD_DIED)]


class BrokenSink:
    def insert_rows(self, rows: Any, dedup_token: str) -> None:
        raise RuntimeError("a schema the store does not have")


class Killed(BaseException):
    pass


def test_an_agent_batch_that_fails_is_never_committed(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The agent hands the error to `on_crash` (in production: exit 70 at once) and holds its
    batch: however long the worker lives on, the batch's offsets are not committed. (A
    graceful stop would commit them: that is why the production handler exits at once.)"""
    config = new_config(kafka_bootstrap)
    step = EvidenceStep(BrokenSink(), {1}, "kafka")
    crashes: list[BaseException] = []
    host = WorkerHost(config, lambda: build_faust_app(config, step, AlertOutbox(),
                                                      on_crash=crashes.append), step)  # fmt: skip
    writer = open_writer(tmp_path / "outbox.sqlite")
    relay = kafka_relay(OutboxReader(tmp_path / "outbox.sqlite", "relay"), writer.wait_for_commit,
                        kafka_bootstrap, config.names, config.partitions)  # fmt: skip
    host.start()
    try:
        assert host.started.wait(60)
        relay.start()
        append(writer, range(20))
        wait_for(lambda: crashes, timeout=60)
        assert isinstance(crashes[0], RuntimeError)
        time.sleep(4)  # four commit intervals
        assert not group_caught_up(kafka_bootstrap, config.app_id, [config.names.raw])
        assert len(crashes) == 1 and host.running
    finally:
        relay.stop()
        host.stop()
        writer.close()


def test_the_production_crash_handler_exits_70() -> None:
    code = "from stream.kafka.agents import crash_exit; crash_exit(RuntimeError('x'))"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60,
                          capture_output=True).returncode == 70  # fmt: skip


def test_the_stream_workers_thread_killed_is_restarted(kafka_bootstrap: str) -> None:
    config = new_config(kafka_bootstrap)
    step = EvidenceStep(BrokenSink(), {1}, "kafka")
    builds: list[float] = []

    def make_app() -> Any:
        builds.append(time.monotonic())
        if len(builds) == 1:
            raise Killed
        return build_faust_app(config, step, AlertOutbox())

    host = WorkerHost(config, make_app, step)
    host.start()
    wait_for(lambda: builds and not host.running, timeout=60)
    dog = Watchdog([Supervised("workers", host)], lambda *_: pytest.fail("exited"),
                   interval_s=0.05, base_s=0.2)  # fmt: skip
    dog.start()
    try:
        assert host.started.wait(60)
        print(f"stream workers restarted {builds[1] - builds[0]:.2f} s after they died")
    finally:
        dog.stop()
        host.stop()


def test_topics_of_the_wrong_shape_end_the_workers_with_exit_code_78(kafka_bootstrap: str) -> None:
    config = new_config(kafka_bootstrap)

    async def precreate() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(config.names.raw, 2, 1)])
        finally:
            await admin.close()

    asyncio.run(precreate())
    step = EvidenceStep(BrokenSink(), {1}, "kafka")
    host = WorkerHost(config, lambda: build_faust_app(config, step, AlertOutbox()), step)
    codes: list[int] = []
    health = PipelineHealth(Health(), [Supervised("workers", host)])
    host.start()
    health.start(codes.append)
    try:
        wait_for(lambda: codes, timeout=60)
        assert codes == [78] and isinstance(host.fatal, TopologyMismatch)
        assert f"{config.names.raw}: 2 partitions, expected 3" in str(host.fatal)
    finally:
        health.stop()
        host.stop()
