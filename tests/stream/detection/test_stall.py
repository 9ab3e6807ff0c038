"""The pipeline_stalled rule (pure): a lag above zero that has not fallen for the bound."""

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from stream.detection.stall import (
    STALL_KIND,
    StallState,
    is_stalled,
    observe_lag,
    stall_alert,
    stalled_for,
)

BOUND = 120.0


def fold(readings: list[tuple[float, int]]) -> StallState:
    state = StallState()
    for now, lag in readings:
        state = observe_lag(state, lag, now)
    return state


def test_a_lag_growing_past_the_bound_is_stalled() -> None:
    state = fold([(t, 10 * t) for t in range(0, 131, 10)])
    assert stalled_for(state, 130) == 130
    assert is_stalled(state, 130, BOUND)
    assert not is_stalled(state, 119, BOUND)


def test_a_lag_that_falls_now_and_then_is_not_stalled() -> None:
    readings = [(t, 500 + (t % 30)) for t in range(0, 600, 5)]  # busy, but moving
    state = StallState()
    for now, lag in readings:
        state = observe_lag(state, lag, now)
        assert not is_stalled(state, now, BOUND)


def test_a_lag_standing_still_above_zero_is_stalled_and_zero_never_is() -> None:
    assert is_stalled(fold([(t, 7) for t in range(0, 200, 10)]), 190, BOUND)
    assert not is_stalled(fold([(t, 0) for t in range(0, 200, 10)]), 190, BOUND)


def test_the_clock_starts_again_when_the_lag_falls() -> None:
    state = fold([(0, 5), (100, 50), (110, 40), (200, 60)])
    assert state.since == 110 and not is_stalled(state, 200, BOUND)
    assert is_stalled(state, 230, BOUND)


def test_one_stall_is_one_alert_updated() -> None:
    state = fold([(1000, 1), (1100, 90)])
    first = stall_alert("outbox", state, 1130, BOUND)
    later = stall_alert("outbox", observe_lag(state, 400, 1200), 1200, BOUND)
    assert first.kind == STALL_KIND == later.kind and first.severity == "high"
    assert first.alert_id == later.alert_id and first.principal == "system:fhir-evidence/outbox"
    assert dict(later.counts) == {"lag": 400, "stalled_s": 200, "bound_s": 120}
    assert later.request_ids == () and "400" in later.summary
    other = stall_alert("consumer", state, 1130, BOUND)
    assert other.alert_id != first.alert_id


# Whole-second gaps keep the clock exact (no float rounding at the bound's edge). The reading
# at exactly `now - bound` may be the fall the stall started from: the window is after it.
@given(st.lists(st.tuples(st.integers(0, 10).map(float), st.integers(0, 1000)), max_size=40))
def test_stalled_only_if_no_reading_fell_within_the_bound(steps: list[tuple[float, int]]) -> None:
    readings, now = [], 0.0
    for gap, lag in steps:
        now += gap
        readings.append((now, lag))
    state = fold(readings)
    if not readings or not is_stalled(state, now, 5.0):
        return
    window = [lag for at, lag in readings if at > now - 5.0]
    before = [lag for at, lag in readings if at <= now - 5.0]
    assert all(lag > 0 for lag in window)
    series = ([before[-1]] if before else []) + window
    assert all(b >= a for a, b in pairwise(series))
