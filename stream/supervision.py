"""Supervision of the pipeline's threads: nothing dies silently.

Every long-running task of a process (the relay, the stream workers, the inline processor,
the checkpointer, the webhook deliverer) handles its expected failures itself (retries with
back-off). The watchdog covers the rest: a task whose thread has ended while the process is
not stopping is restarted with back-off, or, when its policy says so or it ended on a fatal
error (a topic of the wrong shape), the process exits non-zero. The decision is pure
(`verdict`, `restart_delay_s`); the watchdog thread only applies it. The watchdog also
refreshes the health probes (stream.health) on its beat.
"""

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import structlog

from stream.health import Health
from stream.metrics import TASK_RESTARTS

log = structlog.get_logger("fhir_evidence.supervision")
HEALTHY_AFTER_S = 60.0  # a task that ran this long since its restart starts its back-off anew


class Policy(Enum):
    RESTART = "restart"  # start it again, with back-off
    EXIT = "exit"  # end the process non-zero: an orchestrator restarts it


class Verdict(Enum):
    OK = "ok"
    RESTART = "restart"
    EXIT = "exit"


class Task(Protocol):
    name: str
    policy: Policy

    @property
    def running(self) -> bool: ...

    @property
    def fatal(self) -> BaseException | None: ...

    def start(self) -> None: ...


def verdict(running: bool, fatal: BaseException | None, policy: Policy) -> Verdict:
    if running:
        return Verdict.OK
    if fatal is not None or policy is Policy.EXIT:
        return Verdict.EXIT
    return Verdict.RESTART


def restart_delay_s(failures: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Back-off before restart number `failures` (1-based): base, 2 base, 4 base ... cap."""
    return min(cap_s, base_s * 2.0 ** min(max(failures, 1) - 1, 30))


@dataclass
class _Record:
    failures: int = 0
    restart_at: float | None = None
    started_at: float = 0.0


class Watchdog:
    """Watches `tasks` every `interval_s` on a daemon thread; `on_fatal(task, error)` ends
    the process (the composition root decides how)."""

    def __init__(
        self,
        tasks: Sequence[Task],
        on_fatal: Callable[[str, BaseException | None], None],
        health: Health | None = None,
        beats: Sequence[Callable[[], None]] = (),
        interval_s: float = 0.5,
        base_s: float = 1.0,
        cap_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tasks, self._on_fatal, self._health = list(tasks), on_fatal, health
        self._beats = list(beats)  # periodic chores on the same beat (the stall watches)
        self._interval_s, self._base_s, self._cap_s, self._clock = interval_s, base_s, cap_s, clock
        self._records = {task.name: _Record(started_at=clock()) for task in tasks}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.exited: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Before the tasks stop: their ending is no failure then."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.check()
            except Exception:  # the watchdog itself must not die silently either
                log.exception("watchdog pass failed")

    def check(self) -> None:
        """One pass: refresh the probes, then restart or give up on ended tasks."""
        if self._health is not None:
            self._health.refresh_probes()
        for beat in self._beats:
            try:
                beat()
            except Exception:
                log.exception("watchdog beat failed")
        for task in self._tasks:
            if self._stop.is_set() or self.exited is not None:
                return
            self._check(task)

    def _check(self, task: Task) -> None:
        record, now = self._records[task.name], self._clock()
        found = verdict(task.running, task.fatal, task.policy)
        if found is Verdict.OK:
            if record.failures and now - record.started_at >= HEALTHY_AFTER_S:
                record.failures = 0
            return
        if found is Verdict.EXIT:
            self.exited = task.name
            log.critical("pipeline task ended; exiting", task=task.name,
                         error=type(task.fatal).__name__ if task.fatal else None)  # fmt: skip
            self._on_fatal(task.name, task.fatal)
            return
        if record.restart_at is None:
            record.failures += 1
            record.restart_at = now + restart_delay_s(record.failures, self._base_s, self._cap_s)
            log.error("pipeline task ended; restarting", task=task.name,
                      attempt=record.failures, backoff_s=record.restart_at - now)  # fmt: skip
        if now >= record.restart_at:
            record.restart_at, record.started_at = None, now
            TASK_RESTARTS.labels(task=task.name).inc()
            task.start()
