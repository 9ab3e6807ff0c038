"""Builders for detection tests: events at exact times, pseudonym-looking ids, one-call runs."""

import hashlib
from collections.abc import Sequence
from typing import Any

from stream.detection import Alert, DetectionConfig, DetectionEngine, DetectionEvent, detect

S = 1_000_000  # one second in microseconds
MIN = 60 * S
HOUR = 3600 * S
DAY = 24 * HOUR
T0 = 1_736_154_000 * S  # Monday 2025-01-06 09:00:00 UTC: hour of week 9
CARE = ("scope.granted", "careteam.member")


def pseudo(label: str) -> str:
    """A value shaped like a keyed pseudonym (64 hex digits)."""
    return hashlib.sha256(label.encode()).hexdigest()


def event(n: int, at_us: int, **overrides: Any) -> DetectionEvent:
    """An allowed read by dr-alice returning one resource of one patient (`pat-<n>`)."""
    values: dict[str, Any] = {
        "event_id": f"evt-{n:06d}",
        "request_id": f"req-{n:06d}",
        "ts_us": at_us,
        "sub": "dr-alice",
        "client_id": "ehr-app",
        "decision": "allow",
        "status": 200,
        "action": "read",
        "resource_type": "Observation",
        "reasons": CARE,
        "patient_hashes": (pseudo(f"pat-{n}"),),
        "resource_hashes": (pseudo(f"res-{n}"),),
        "purpose_of_use": "TREAT",
        "count_returned": 1,
    }
    values.update(overrides)
    return DetectionEvent(**values)


def spaced(count: int, step_us: int, start_us: int = T0, first: int = 0, **kw: Any) -> list:
    """`count` events, one new patient each, `step_us` apart."""
    return [event(first + i, start_us + i * step_us, **kw) for i in range(count)]


def denial(n: int, at_us: int, status: int = 403, **kw: Any) -> DetectionEvent:
    values: dict[str, Any] = {
        "decision": "deny",
        "status": status,
        "reasons": ("scope.insufficient",),
        "patient_hashes": (),
        "resource_hashes": (),
        "count_returned": 0,
    }
    values.update(kw)
    return event(n, at_us, **values)


def miss(n: int, at_us: int, **kw: Any) -> DetectionEvent:
    """A read of an id that does not exist (404, nothing to pseudonymise)."""
    return denial(n, at_us, status=404, reasons=("not_found",), **kw)


def run(
    events: Sequence[DetectionEvent],
    config: DetectionConfig | None = None,
    state: DetectionEngine | None = None,
) -> tuple[DetectionEngine, list[Alert]]:
    return detect(state or DetectionEngine(), events, config or DetectionConfig())


def of_kind(alerts: Sequence[Alert], kind: str) -> list[Alert]:
    return [alert for alert in alerts if alert.kind == kind]


def first_alert_index(
    events: Sequence[DetectionEvent], kind: str, config: DetectionConfig | None = None
) -> int | None:
    """Feed events one at a time; the index of the first one that raises `kind`."""
    state = DetectionEngine()
    for index, item in enumerate(events):
        state, alerts = run([item], config, state)
        if of_kind(alerts, kind):
            return index
    return None
