"""Properties over arbitrary event streams (small floors, so that alerts are frequent)."""

import json
from collections.abc import Sequence
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.detection import (
    Alert,
    DetectionConfig,
    DetectionEngine,
    DetectionEvent,
    alert_from_dict,
    alert_key,
    alert_to_dict,
    detect,
    engine_state_from_dict,
    engine_state_to_dict,
    merge,
)
from stream.detection.alerts import SEVERITIES
from tests.stream.detection.properties import SMALL, streams
from tests.stream.detection.support import T0, denial


def run(events: Sequence[DetectionEvent], state: DetectionEngine | None = None):  # type: ignore[no-untyped-def]
    return detect(state or DetectionEngine(), events, SMALL)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_alerts_are_deterministic_and_well_formed(events: list[DetectionEvent]) -> None:
    state, alerts = run(events)
    assert run(events) == (state, alerts)
    known_ids = {e.request_id for e in events}
    secrets = known_ids | {e.event_id for e in events}
    secrets |= {h for e in events for h in (*e.patient_hashes, *e.resource_hashes)}
    assert len({a.alert_id for a in alerts}) == len(alerts)
    for alert in alerts:
        assert alert.alert_id == alert_key(alert.kind, alert.principal, alert.window_start_us)
        assert alert.severity in SEVERITIES
        assert alert.first_seen_us <= alert.last_seen_us
        assert alert.window_start_us <= alert.last_seen_us
        assert alert.open_at(alert.last_seen_us)
        assert 0 < len(alert.request_ids) <= 100
        assert len(set(alert.request_ids)) == len(alert.request_ids)
        assert set(alert.request_ids) <= known_ids
        assert all(value >= 0 for _, value in alert.counts)
        assert not any(secret in alert.summary for secret in secrets)
        assert alert_from_dict(json.loads(json.dumps(alert_to_dict(alert)))) == alert
        assert merge(alert, alert) == alert


@settings(max_examples=100, deadline=None)
@given(streams(), st.lists(st.integers(min_value=0, max_value=60), max_size=5))
def test_splitting_and_restarting_change_nothing(
    events: list[DetectionEvent], cuts: list[int]
) -> None:
    whole_state, whole = run(events)
    state, latest = DetectionEngine(), {}
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for start, end in pairwise(bounds):
        state = engine_state_from_dict(json.loads(json.dumps(engine_state_to_dict(state))))
        state, alerts = run(events[start:end], state)
        latest.update({a.alert_id: a for a in alerts})
    assert state == whole_state
    assert latest == {a.alert_id: a for a in whole}


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=20, max_value=400))
def test_request_ids_are_the_most_recent_hundred(count: int) -> None:
    burst = [denial(i, T0 + i * 100_000) for i in range(count)]  # all within 40 s
    _, alerts = detect(DetectionEngine(), burst, DetectionConfig())
    [alert] = [a for a in alerts if a.kind == "denied_burst"]
    assert alert.request_ids == tuple(d.request_id for d in burst[-100:])
    assert alert.count("denials_1m") == count


def _alert_ids(alerts: Sequence[Alert]) -> list[str]:
    return [a.alert_id for a in alerts]


@settings(max_examples=60, deadline=None)
@given(streams())
def test_alert_ids_are_stable_across_runs_and_prefixes(events: list[DetectionEvent]) -> None:
    _, full = run(events)
    _, prefix = run(events[: len(events) // 2])
    assert set(_alert_ids(prefix)) <= set(_alert_ids(full))
