"""bulk_access_spike: distinct patients returned to one principal, in sliding windows of
1 min, 5 min and 1 h against absolute floors, and per clock hour against the principal's
own baseline (see `baseline`).

State and how events enter it: `bulk_state`. The rule judges each admitted event: cheaply
skipped while no floor is within reach and nothing has been learned.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    Alert,
    Raised,
    new_alert,
    raise_alert,
    unreported_after,
)
from stream.detection.baseline import HOUR_US, expectation, hour_of_week, zscore
from stream.detection.bulk_state import (
    WINDOWS,
    BulkState,
    Seen,
    admit,
    compact_state,
    copy_state,
    counts,
    hour_count,
    keep_windows,
    learned,
    state_from_dict,
    state_to_dict,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.owners import Owners, own

KIND = "bulk_access_spike"
VERSION = "1"
_SECOND_US = 1_000_000
__all__ = ["KIND", "VERSION", "BulkAccessSpike", "BulkState"]


@dataclass(frozen=True, slots=True)
class _Trigger:
    since_us: int  # evidence behind the alert: entries later than this
    summary: str
    extra: tuple[tuple[str, int], ...] = ()


def floors(config: DetectionConfig) -> tuple[int, ...]:
    return (config.bulk_spike_floor_1m, config.bulk_spike_floor_5m, config.bulk_spike_floor_1h)


class BulkAccessSpike:
    kind = KIND
    version = VERSION

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        """In place; only allowed events that returned some patient's data count."""
        limits = floors(config)
        need = min(limits[:-1])  # the short windows are kept from this many patients on
        quiet = min(need, limits[-1])  # below this many, only the baseline may speak
        raised: Raised = []
        for index, event in enumerate(events):
            if not (event.patient_hashes and event.returned_data):
                continue
            state = own(owners[index], KIND, BulkState)
            now = admit(state, event, config)
            if len(state.seen) < quiet and not (state.baseline.hours or state.baseline.overall.n):
                continue  # the common case: no floor within reach, no baseline yet
            alert = _judge(state, event.principal, now, config, limits, need)
            if alert is not None:
                raised.append((index, alert))
        return raised

    def copy(self, state: BulkState) -> BulkState:
        return copy_state(state)

    def compact(self, state: BulkState, now_us: int, config: DetectionConfig) -> BulkState | None:
        return compact_state(state, now_us, config)

    def state_to_dict(self, state: BulkState) -> dict[str, Any]:
        return state_to_dict(state)

    def state_from_dict(self, data: Mapping[str, Any]) -> BulkState:
        return state_from_dict(data)


def _judge(
    state: BulkState,
    who: str,
    now: int,
    config: DetectionConfig,
    limits: tuple[int, ...],
    need: int,
) -> Alert | None:
    if len(state.seen) >= need:
        keep_windows(state, now)
    position = _reached(state, limits)
    trigger = None if position >= 0 else _baseline_trigger(state, now, config, who)
    if position < 0 and trigger is None:
        return None
    found = counts(state, now)
    if trigger is None:
        label, seconds = WINDOWS[position]
        text = f"{who}: {found[position]} distinct patients within {label}"
        trigger = _Trigger(now - seconds * _SECOND_US, f"{text} (floor {limits[position]})")
    fresh = _alert(state, who, found, trigger, config)
    state.open_alert = raise_alert(state.open_alert, fresh)
    return state.open_alert


def _reached(state: BulkState, limits: tuple[int, ...]) -> int:
    """The longest window whose floor is reached (its position in WINDOWS), -1: none. The
    short windows are not kept while `seen` is smaller than their floors: none is reached."""
    if len(state.seen) >= limits[-1]:
        return len(WINDOWS) - 1
    recent = state.recent or ()
    for position in reversed(range(len(recent))):
        if len(recent[position]) >= limits[position]:
            return position
    return -1


def _baseline_trigger(
    state: BulkState, now_us: int, config: DetectionConfig, who: str
) -> _Trigger | None:
    baseline = state.baseline
    if not learned(baseline):
        return None  # no expectation
    stats = expectation(
        baseline,
        hour_of_week(now_us),
        config.baseline_warmup_samples,
        config.baseline_overall_warmup_samples,
    )
    if stats is None:
        return None
    since = now_us // HOUR_US * HOUR_US - 1
    value = hour_count(state, now_us // HOUR_US)  # the entries later than `since`
    z = zscore(stats, value, config.baseline_min_std)
    if value < config.baseline_min_distinct or z < config.baseline_z_threshold:
        return None
    text = f"{who}: {value} distinct patients this hour, usually {stats.mean:.1f} (z {z:.1f})"
    extra = (("distinct_patients_this_hour", value), ("baseline_mean", round(stats.mean)))
    return _Trigger(since, text, (*extra, ("zscore", int(z))))


def _alert(
    state: BulkState,
    principal: str,
    found: tuple[int, ...],
    trigger: _Trigger,
    config: DetectionConfig,
) -> Alert:
    since = unreported_after(state.open_alert, state.latest_us, trigger.since_us)
    first_seen, request_ids = _evidence(state.seen, since)
    named = [
        (f"distinct_patients_{label}", n) for (label, _), n in zip(WINDOWS, found, strict=True)
    ]
    return new_alert(
        kind=KIND,
        severity=config.severity(KIND),
        principal=principal,
        ts_us=state.latest_us,
        window_s=config.alert_window_s,
        counts=[*named, *trigger.extra],
        rule_version=VERSION,
        request_ids=request_ids,
        summary=trigger.summary,
        first_seen_us=first_seen,
    )


def _evidence(seen: Seen, cutoff_us: int) -> tuple[int | None, tuple[str, ...]]:
    """The earliest time after `cutoff_us` and the request ids behind the entries since."""
    newest_first: list[str] = []
    first_seen = None
    for ts, request_id in reversed(seen.values()):
        if ts <= cutoff_us:
            break
        newest_first.append(request_id)
        first_seen = ts
    request_ids = tuple(dict.fromkeys(newest_first))[:MAX_REQUEST_IDS]
    return first_seen, request_ids[::-1]
