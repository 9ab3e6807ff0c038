"""AlertActionRecorder: the chained event first, then the record, then the detector."""

import asyncio
from typing import Any

import pytest

from api.audit.recorder import AlertActionRecorder
from evidence.core import AccessEvent
from evidence.core.alert_actions import SUPPRESS, AlertAction, action_marker

ACTION = AlertAction("al-1", SUPPRESS, "export", "dr-x", "auditor", "ok", 10, 20, "req-1")


class Steps:
    def __init__(self, fail_at: str = "") -> None:
        self.done: list[Any] = []
        self.fail_at = fail_at

    async def append(self, event: AccessEvent) -> int:
        self._step("event", event)
        return 1

    def record_alert_action(self, action: AlertAction) -> None:
        self._step("record", action)

    def changed(self) -> None:
        self._step("changed", None)

    def _step(self, name: str, value: Any) -> None:
        if name == self.fail_at:
            raise RuntimeError(name)
        self.done.append((name, value))


def record(steps: Steps, tell: bool = True) -> None:
    recorder = AlertActionRecorder(steps, steps, steps.changed if tell else None)  # type: ignore[arg-type]
    asyncio.run(recorder.record(ACTION, "trace-1", ("auditor", "console", "https://i")))


def test_the_event_is_appended_before_the_record_and_the_detector_is_told() -> None:
    steps = Steps()
    record(steps)
    assert [name for name, _ in steps.done] == ["event", "record", "changed"]
    event = steps.done[0][1]
    assert (event.request_id, event.trace_id, event.sub) == ("req-1", "trace-1", "auditor")
    assert event.policy_version == action_marker(ACTION) and steps.done[1][1] == ACTION


def test_without_a_detector_here_nothing_is_told() -> None:
    steps = Steps()
    record(steps, tell=False)
    assert [name for name, _ in steps.done] == ["event", "record"]


def test_no_record_without_its_chained_event() -> None:
    steps = Steps(fail_at="event")
    with pytest.raises(RuntimeError):
        record(steps)
    assert steps.done == []
