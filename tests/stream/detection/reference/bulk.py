"""bulk_access_spike: distinct patients returned to one principal, in sliding windows of
1 min, 5 min and 1 h against absolute floors, and per clock hour against the principal's
own baseline (see `baseline`).

State per principal: the patients returned in the last hour (pseudonym -> last time and
request id, ordered by that time, at most `max_tracked_patients`, oldest dropped first), the
clock hour of the latest activity (folded into the baseline once a later hour starts), the
baseline itself, and the open alert. An event older than the principal's latest counts as
happening at that latest time, so the windows stay ordered and cheap to slide.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from operator import itemgetter
from typing import Any

from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    Alert,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
    unreported_after,
)
from stream.detection.baseline import (
    HOUR_US,
    Baseline,
    Stats,
    baseline_from_dict,
    baseline_to_dict,
    expectation,
    hour_of_week,
    update_baseline,
    zscore,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent

KIND = "bulk_access_spike"
VERSION = "1"
_SECOND_US = 1_000_000
WINDOWS: tuple[tuple[str, int], ...] = (("1m", 60), ("5m", 300), ("1h", 3600))
_LONGEST_US = WINDOWS[-1][1] * _SECOND_US

Seen = dict[str, tuple[int, str]]  # patient pseudonym -> (last time, request id)


@dataclass(frozen=True, slots=True)
class BulkState:
    seen: Seen = field(default_factory=dict)
    latest_us: int = 0
    hour_index: int = -1  # clock hour (ts // 1 h) not yet folded into the baseline; -1: none
    baseline: Baseline = field(default_factory=Baseline)
    open_alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class _Trigger:
    since_us: int  # evidence behind the alert: entries later than this
    summary: str
    extra: tuple[tuple[str, int], ...] = ()


def floors(config: DetectionConfig) -> dict[str, int]:
    return {
        "1m": config.bulk_spike_floor_1m,
        "5m": config.bulk_spike_floor_5m,
        "1h": config.bulk_spike_floor_1h,
    }


class BulkAccessSpike:
    kind = KIND
    version = VERSION

    def initial(self) -> BulkState:
        return BulkState()

    def evaluate(
        self, state: BulkState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[BulkState, list[Alert]]:
        if not (event.returned_data and event.patient_hashes):
            return state, []
        now = max(state.latest_us, event.ts_us)
        baseline = fold_hour(state, now, config.baseline_alpha).baseline
        seen = admit(state.seen, event, now, config.max_tracked_patients)
        updated = BulkState(seen, now, now // HOUR_US, baseline, state.open_alert)
        times = _times(seen)
        counts = window_counts(times, now)
        trigger = _trigger(times, counts, baseline, now, config, event.principal)
        if trigger is None:
            return updated, []
        fresh = _alert(updated, times, event.principal, (counts, trigger), config)
        alert = raise_alert(state.open_alert, fresh)
        return replace(updated, open_alert=alert), [alert]

    def compact(self, state: BulkState, now_us: int, config: DetectionConfig) -> BulkState | None:
        state = fold_hour(state, now_us, config.baseline_alpha)
        open_alert = state.open_alert
        if open_alert is not None and not open_alert.open_at(now_us):
            open_alert = None
        seen = _prune(state.seen, now_us - _LONGEST_US)
        state = replace(state, seen=seen, open_alert=open_alert)
        idle = not seen and open_alert is None and state.hour_index < 0
        return None if idle and state.baseline.overall.n == 0 else state

    def state_to_dict(self, state: BulkState) -> dict[str, Any]:
        return {
            "seen": [[p, ts, rid] for p, (ts, rid) in state.seen.items()],
            "latest_us": state.latest_us,
            "hour_index": state.hour_index,
            "baseline": baseline_to_dict(state.baseline),
            "open_alert": optional_alert_to_dict(state.open_alert),
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> BulkState:
        entries = sorted(((str(p), (int(ts), str(rid))) for p, ts, rid in data["seen"]), key=_at)
        return BulkState(
            seen=dict(entries),
            latest_us=int(data["latest_us"]),
            hour_index=int(data["hour_index"]),
            baseline=baseline_from_dict(data["baseline"]),
            open_alert=optional_alert_from_dict(data["open_alert"]),
        )


def _at(item: tuple[str, tuple[int, str]]) -> int:
    return item[1][0]


def fold_hour(state: BulkState, now_us: int, alpha: float) -> BulkState:
    """Once a later clock hour has begun, the pending hour's distinct count joins the
    baseline (nothing is pending afterwards)."""
    if state.hour_index < 0 or now_us // HOUR_US <= state.hour_index:
        return state
    start = state.hour_index * HOUR_US
    times = _times(state.seen)
    value = bisect_left(times, start + HOUR_US) - bisect_left(times, start)
    baseline = update_baseline(state.baseline, hour_of_week(start), value, alpha)
    return replace(state, baseline=baseline, hour_index=-1)


def _times(seen: Seen) -> list[int]:
    """Entry times, oldest first (the order `admit` keeps)."""
    return list(map(itemgetter(0), seen.values()))


def _later(times: list[int], cutoff_us: int) -> int:
    """How many entries are later than `cutoff_us`."""
    return len(times) - bisect_right(times, cutoff_us)


def _prune(seen: Seen, cutoff_us: int) -> dict[str, tuple[int, str]]:
    """A copy without the entries at or before `cutoff_us` (they are the first ones)."""
    kept = dict(seen)
    for patient, (ts, _) in seen.items():
        if ts > cutoff_us:
            break
        del kept[patient]
    return kept


def admit(seen: Seen, event: DetectionEvent, now_us: int, cap: int) -> dict[str, tuple[int, str]]:
    """The last hour's patients plus the event's (at `now_us`), oldest first, capped."""
    kept = _prune(seen, now_us - _LONGEST_US)
    for patient in event.patient_hashes:
        kept.pop(patient, None)
        kept[patient] = (now_us, event.request_id)
    excess = len(kept) - cap
    for patient in list(islice(kept, max(excess, 0))):
        del kept[patient]
    return kept


def window_counts(times: list[int], now_us: int) -> dict[str, int]:
    """Distinct patients per sliding window (now - w, now]."""
    return {label: _later(times, now_us - s * _SECOND_US) for label, s in WINDOWS}


def _trigger(
    times: list[int],
    counts: dict[str, int],
    baseline: Baseline,
    now_us: int,
    config: DetectionConfig,
    who: str,
) -> _Trigger | None:
    limits = floors(config)
    reached = [(label, s) for label, s in WINDOWS if counts[label] >= limits[label]]
    if reached:
        label, seconds = reached[-1]
        text = f"{who}: {counts[label]} distinct patients within {label} (floor {limits[label]})"
        return _Trigger(now_us - seconds * _SECOND_US, text)
    stats = expectation(
        baseline,
        hour_of_week(now_us),
        config.baseline_warmup_samples,
        config.baseline_overall_warmup_samples,
    )
    return None if stats is None else _baseline_trigger(times, stats, now_us, config, who)


def _baseline_trigger(
    times: list[int], stats: Stats, now_us: int, config: DetectionConfig, who: str
) -> _Trigger | None:
    since = now_us // HOUR_US * HOUR_US - 1
    value = _later(times, since)
    z = zscore(stats, value, config.baseline_min_std)
    if value < config.baseline_min_distinct or z < config.baseline_z_threshold:
        return None
    text = f"{who}: {value} distinct patients this hour, usually {stats.mean:.1f} (z {z:.1f})"
    extra = (("distinct_patients_this_hour", value), ("baseline_mean", round(stats.mean)))
    return _Trigger(since, text, (*extra, ("zscore", int(z))))


def _alert(
    state: BulkState,
    times: list[int],
    principal: str,
    why: tuple[dict[str, int], _Trigger],
    config: DetectionConfig,
) -> Alert:
    counts, trigger = why
    since = unreported_after(state.open_alert, state.latest_us, trigger.since_us)
    first_seen, request_ids = _evidence(state.seen, times, since)
    return new_alert(
        kind=KIND,
        severity=config.severity(KIND),
        principal=principal,
        ts_us=state.latest_us,
        window_s=config.alert_window_s,
        counts=[*((f"distinct_patients_{k}", v) for k, v in counts.items()), *trigger.extra],
        rule_version=VERSION,
        request_ids=request_ids,
        summary=trigger.summary,
        first_seen_us=first_seen,
    )


def _evidence(seen: Seen, times: list[int], cutoff_us: int) -> tuple[int | None, tuple[str, ...]]:
    """The earliest time after `cutoff_us` and the request ids behind the entries since."""
    count = _later(times, cutoff_us)
    if count == 0:
        return None, ()
    newest_first = map(itemgetter(1), islice(reversed(seen.values()), count))
    request_ids = tuple(dict.fromkeys(newest_first))[:MAX_REQUEST_IDS]
    return times[-count], request_ids[::-1]
