"""AlertActionRecorder: how an auditor's action on an alert is kept. The chained event first
(write-ahead, like every request's event), then the record that gives the alert its status
(through the evidence-query port), then the detector is told (a suppression takes effect at
once where the detector runs in this process). Built by the composition root."""

import uuid
from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from evidence.core import AccessEvent
from evidence.core.alert_actions import AlertAction, action_event
from evidence.core.queries import EvidenceQueries

__all__ = ["AlertActionRecorder", "EventLog"]


class EventLog(Protocol):
    """Where chained events are appended (the audit outbox)."""

    async def append(self, event: AccessEvent) -> int: ...


class AlertActionRecorder:
    def __init__(
        self,
        events: EventLog,
        evidence: EvidenceQueries,
        changed: Callable[[], None] | None = None,
    ) -> None:
        """`changed`: tells the detector, where it runs in this process."""
        self._events = events
        self._evidence = evidence
        self._changed = changed

    async def record(
        self, action: AlertAction, trace_id: str, identity: tuple[str, str, str]
    ) -> None:
        """`identity`: the actor's (sub, client_id, issuer), as its request's event has them."""
        await self._events.append(action_event(action, uuid.uuid4().hex, trace_id, identity))
        await run_in_threadpool(self._evidence.record_alert_action, action)
        if self._changed is not None:
            self._changed()
