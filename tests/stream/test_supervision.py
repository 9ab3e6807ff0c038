"""Supervision: a task whose thread ended is restarted with back-off, or the process is told
to exit (fatal error, or a task whose policy is to exit). Real threads; the relay, the inline
processor and the webhook deliverer are the real ones, killed from inside their threads."""

import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from api.boot.health import PipelineHealth, Supervised, stop_server
from stream.alerting.webhook import WebhookDeliverer, WebhookQueue
from stream.health import Health, Probe
from stream.kafka.admin import TopologyMismatch
from stream.kafka.relay import OutboxRelay
from stream.outbox import OutboxReader, OutboxWriter
from stream.supervision import Policy, Verdict, Watchdog, restart_delay_s, verdict

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


class Killed(BaseException):
    """Escapes every `except Exception`: the thread it is raised in dies."""


def test_verdict_and_back_off() -> None:
    assert verdict(True, None, Policy.EXIT) is Verdict.OK
    assert verdict(False, None, Policy.RESTART) is Verdict.RESTART
    assert verdict(False, None, Policy.EXIT) is Verdict.EXIT
    assert verdict(False, TopologyMismatch("x"), Policy.RESTART) is Verdict.EXIT
    assert [restart_delay_s(n) for n in (1, 2, 3, 6, 40)] == [1, 2, 4, 30, 30]


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, "condition not reached"
        time.sleep(0.01)
    return time.monotonic() - began


class ThreadTask:
    """A task whose thread runs `body` (which may raise)."""

    def __init__(self, body: Callable[[], None]) -> None:
        self.body, self.starts, self.fatal = body, 0, None
        self.stopping = False
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        self.starts += 1
        self.thread = threading.Thread(target=self.body, daemon=True)
        self.thread.start()


def test_a_dead_task_is_restarted_with_growing_back_off() -> None:
    task = ThreadTask(lambda: None)  # ends at once, every time
    task.start()
    exits: list[str] = []
    dog = Watchdog([Supervised("t", task)], lambda name, _: exits.append(name),
                   interval_s=0.01, base_s=0.1, cap_s=0.4)  # fmt: skip
    dog.start()
    wait_until(lambda: task.starts >= 4)
    dog.stop()
    assert not exits


def test_a_fatal_error_or_an_exit_policy_ends_the_process() -> None:
    fatal = ThreadTask(lambda: None)
    fatal.fatal = TopologyMismatch("fhir.access.raw: 3 partitions, expected 6")  # type: ignore[assignment]
    fatal.start()
    exits: list[tuple[str, BaseException | None]] = []
    dog = Watchdog([Supervised("workers", fatal)], lambda n, e: exits.append((n, e)),
                   interval_s=0.01)  # fmt: skip
    fatal.thread.join()  # type: ignore[union-attr]
    dog.check()
    assert exits == [("workers", fatal.fatal)] and fatal.starts == 1
    task = ThreadTask(lambda: None)
    task.start()
    task.thread.join()  # type: ignore[union-attr]
    exits.clear()
    Watchdog([Supervised("agent", task, Policy.EXIT)], lambda n, e: exits.append((n, e))).check()
    assert exits == [("agent", None)]


def test_a_deliberate_stop_is_no_failure() -> None:
    task = ThreadTask(lambda: None)
    task.start()
    task.thread.join()  # type: ignore[union-attr]
    task.stopping = True
    Watchdog([Supervised("t", task)], lambda *_: pytest.fail("exited")).check()
    assert task.starts == 1


def test_the_relay_killed_in_its_thread_is_restarted(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path / "outbox.sqlite", lambda e: {}, 1)
    attempts: list[float] = []

    def producer() -> object:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise Killed  # the relay's thread dies
        raise RuntimeError("broker away")  # retried by the relay itself, with back-off

    relay = OutboxRelay(OutboxReader(tmp_path / "outbox.sqlite", "r"), producer,  # type: ignore[arg-type]
                        writer.wait_for_commit)  # fmt: skip
    relay.start()
    wait_until(lambda: not relay.running)
    dog = Watchdog([Supervised("relay", relay)], lambda *_: pytest.fail("exited"),
                   interval_s=0.01, base_s=0.05)  # fmt: skip
    dog.start()
    took = wait_until(lambda: len(attempts) >= 4)
    dog.stop()
    relay.stop()
    gaps = [b - a for a, b in pairwise(attempts[1:])]
    assert relay.running is False and took < 5
    assert gaps[1] > gaps[0]  # the relay's own back-off: 0.2 s, 0.4 s ...
    writer.close()


def test_a_topic_of_the_wrong_shape_ends_the_relay_with_a_fatal_error(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path / "outbox.sqlite", lambda e: {}, 1)

    async def prepare() -> None:
        raise TopologyMismatch("fhir.access.raw: 3 partitions, expected 6")

    relay = OutboxRelay(OutboxReader(tmp_path / "outbox.sqlite", "r"), lambda: None,  # type: ignore[arg-type, return-value]
                        writer.wait_for_commit, prepare=prepare)  # fmt: skip
    relay.start()
    wait_until(lambda: not relay.running)
    exits: list[str] = []
    Watchdog([Supervised("relay", relay)], lambda n, _: exits.append(n)).check()
    assert exits == ["relay"] and isinstance(relay.fatal, TopologyMismatch)
    writer.close()


def test_the_webhook_deliverer_killed_in_its_thread_is_restarted(tmp_path: Path) -> None:
    queue = WebhookQueue(tmp_path / "webhook.sqlite")
    passes = []

    def jitter() -> float:
        passes.append(1)
        if len(passes) == 1:
            raise Killed
        return 0.0

    deliverer = WebhookDeliverer(queue, "http://127.0.0.1:9/hook", None, jitter=jitter,
                                 idle_s=0.02, base_s=0.01)  # fmt: skip
    deliverer.enqueue("a", b"{}")
    deliverer.start()
    wait_until(lambda: not deliverer.running)
    dog = Watchdog([Supervised("webhook-deliverer", deliverer)], lambda *_: pytest.fail("x"),
                   interval_s=0.01, base_s=0.05)  # fmt: skip
    dog.start()
    wait_until(lambda: len(passes) >= 2 and deliverer.running)
    dog.stop()
    deliverer.stop()
    queue.close()


def test_probes_are_refreshed_by_the_watchdog_not_per_read() -> None:
    calls: list[int] = []
    up = [True]

    def ask() -> bool:
        calls.append(1)
        return up[0]

    health = Health()
    health.add("fhir_store", Probe("fhir_store", ask))
    health.add("outbox", lambda: True)
    dog = Watchdog([], lambda *_: None, health)
    dog.check()
    assert health.failing() == [] and health.failing() == [] and len(calls) == 1
    up[0] = False
    assert health.failing() == []  # cached until the next beat
    dog.check()
    assert health.failing() == ["fhir_store"]


def test_serve_is_stopped_with_exit_code_78_when_the_relay_meets_a_wrong_topic(
    tmp_path: Path,
) -> None:
    """The path of `serve`: the watchdog sees the relay's fatal end, asks uvicorn to shut down
    (no signal) and leaves the exit code for the CLI."""
    writer = OutboxWriter(tmp_path / "outbox.sqlite", lambda e: {}, 1)

    async def prepare() -> None:
        raise TopologyMismatch("fhir.access.raw: 3 partitions, expected 6")

    relay = OutboxRelay(OutboxReader(tmp_path / "outbox.sqlite", "r"), lambda: None,  # type: ignore[arg-type, return-value]
                        writer.wait_for_commit, prepare=prepare)  # fmt: skip

    class Server:
        should_exit = False

    server = Server()
    pipeline = PipelineHealth(Health(), [Supervised("relay", relay)])
    relay.start()
    pipeline.start(stop_server(server, hard_exit_after_s=None))
    try:
        took = wait_until(lambda: server.should_exit)
        assert pipeline.exit_code == 78
        print(f"fatal relay error to shutdown: {took:.2f} s")
    finally:
        pipeline.stop()
        writer.close()


class Dies:
    """Raises Killed on the first `times` calls (the thread calling it dies), then works."""

    def __init__(self, times: int = 1) -> None:
        self.calls, self.times = 0, times

    def __call__(self, *args: object, **kwargs: object) -> list[object]:
        self.calls += 1
        if self.calls <= self.times:
            raise Killed
        return []


def test_the_inline_processor_killed_in_its_thread_is_restarted(tmp_path: Path) -> None:
    from stream.inline import InlineProcessor
    from stream.step import EvidenceStep
    from tests.stream.kafka.kafka_support import append, open_writer

    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(3))
    step = EvidenceStep(None, {1}, "inline")  # type: ignore[arg-type]
    step.run = Dies()  # type: ignore[method-assign, assignment]
    reader = OutboxReader(tmp_path / "outbox.sqlite", "inline")
    processor = InlineProcessor(reader, step, writer.wait_for_commit)
    processor.start()
    wait_until(lambda: not processor.running)
    assert processor.position == 0
    dog = Watchdog([Supervised("inline-processor", processor)], lambda *_: pytest.fail("x"),
                   interval_s=0.01, base_s=0.05)  # fmt: skip
    dog.start()
    wait_until(lambda: processor.position == 3 and processor.running)
    dog.stop()
    processor.stop()
    writer.close()


def test_the_checkpointer_killed_in_its_thread_is_restarted() -> None:
    from evidence.store.seal.checkpointer import CheckpointRunner

    class Checkpointer:
        run_once = Dies()

    runner = CheckpointRunner(Checkpointer(), interval_s=0.01)  # type: ignore[arg-type]
    runner.start()
    wait_until(lambda: not runner.running)
    dog = Watchdog([Supervised("checkpointer", runner)], lambda *_: pytest.fail("x"),
                   interval_s=0.01, base_s=0.05)  # fmt: skip
    dog.start()
    wait_until(lambda: Checkpointer.run_once.calls >= 3 and runner.running)
    dog.stop()
    runner.stop(final_pass=False)


def test_the_relay_sees_the_broker_go_while_a_send_waits_for_its_ack(tmp_path: Path) -> None:
    """Under load a send may wait for its acknowledgement up to the request timeout; the
    heartbeat beside it says `kafka` at once (HEARTBEAT_S), not after that timeout."""
    import asyncio

    from tests.stream.kafka.kafka_support import append, open_writer

    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(3))
    away = threading.Event()

    class Hanging:
        async def start(self) -> None: ...
        async def stop(self) -> None: ...

        async def send(self, topic: str, value: bytes, key: bytes) -> object:
            return asyncio.get_running_loop().create_future()  # never acknowledged

    async def heartbeat(producer: object) -> None:
        if away.is_set():
            raise ConnectionError("broker away")

    relay = OutboxRelay(OutboxReader(tmp_path / "outbox.sqlite", "r"), Hanging,  # type: ignore[arg-type]
                        writer.wait_for_commit, heartbeat=heartbeat)  # fmt: skip
    relay.start()
    try:
        wait_until(lambda: relay.connected)
        time.sleep(2.5)
        assert relay.broker_ok
        away.set()
        took = wait_until(lambda: not relay.broker_ok, timeout=5)
        print(f"broker gone seen {took:.2f} s into a send waiting for its ack")
    finally:
        relay.stop(timeout=1)
        writer.close()
