"""The `pipeline_stalled` rule (pure): a lag that keeps growing past a bound.

A pipeline lag (events in the outbox not yet taken by the relay or the inline processor;
Kafka messages not yet committed by the consumer group) is read now and then. Under load it
goes up and down; while a stage is stuck it only grows. The rule: the lag is above zero and
no reading for `bound_s` seconds was lower than the one before it. Then the pipeline is
stalled, and an alert of kind `pipeline_stalled` (one per source and episode, updated while
the stall lasts) says so through the ordinary alert path.

Time is passed in (seconds for the readings, microseconds for the alert); nothing here
reads a clock.
"""

from dataclasses import dataclass

from stream.detection.alerts import Alert, alert_key, explained

STALL_KIND = "pipeline_stalled"
STALL_RULE_VERSION = "pipeline_stalled/1"
SYSTEM_PRINCIPAL = "system:fhir-evidence"
EPISODE_S = 3600


@dataclass(frozen=True, slots=True)
class StallState:
    """`since`: when the lag last fell (or was zero); `lag`: the last reading."""

    since: float | None = None
    lag: int = 0


def observe_lag(state: StallState, lag: int, now: float) -> StallState:
    """Fold one reading in."""
    if state.since is None or lag == 0 or lag < state.lag:
        return StallState(now, lag)
    return StallState(state.since, lag)


def stalled_for(state: StallState, now: float) -> float:
    """Seconds the lag has been above zero without falling (0 when it is not)."""
    if state.since is None or state.lag == 0:
        return 0.0
    return max(0.0, now - state.since)


def is_stalled(state: StallState, now: float, bound_s: float) -> bool:
    return state.lag > 0 and stalled_for(state, now) >= bound_s


def stall_alert(source: str, state: StallState, now: float, bound_s: float) -> Alert:
    """The alert of a stalled `source` ("outbox" or "consumer"): its episode starts when
    the lag last fell, so every update of one stall names the same alert."""
    since = state.since if state.since is not None else now
    start_us, now_us = int(since * 1_000_000), int(now * 1_000_000)
    principal = f"{SYSTEM_PRINCIPAL}/{source}"
    stalled_s = int(stalled_for(state, now))
    return Alert(
        alert_id=alert_key(STALL_KIND, principal, start_us),
        kind=STALL_KIND,
        severity="high",
        principal=principal,
        first_seen_us=start_us,
        last_seen_us=now_us,
        window_start_us=start_us,
        window_s=EPISODE_S,
        counts=(("lag", state.lag), ("stalled_s", stalled_s), ("bound_s", int(bound_s))),
        rule_version=STALL_RULE_VERSION,
        request_ids=(),
        summary=f"{source} lag {state.lag} has not fallen for {stalled_s} s",
        explanation=explained(
            STALL_KIND, STALL_RULE_VERSION, [("baseline", f"fixed bound {int(bound_s)} s")]
        ),
    )
