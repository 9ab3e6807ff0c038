"""bulk_access_spike: distinct patients returned to one principal, in sliding windows of
1 min, 5 min and 1 h against absolute floors, and per clock hour against the principal's
own baseline (see `baseline`).

State per principal: the patients returned in the last hour (pseudonym -> last time and
request id, ordered by that time, at most `max_tracked_patients`, oldest dropped first), the
clock hour of the latest activity (folded into the baseline once a later hour starts), the
baseline itself, and the open alert. An event older than the principal's latest counts as
happening at that latest time, so the windows stay ordered and cheap to slide.

Incremental: the state is mutable and owned by the engine (`observe` changes it in place),
and an event costs O(its patients), not O(patients seen). Besides the hour (`seen`), the
1 min and 5 min windows are kept as recency maps of their own (always the suffix of `seen`
later than latest - window) once `seen` is large enough to reach their floors, and the
patients of the current clock hour as a running count once the baseline asks for it. These
derived parts are rebuilt from `seen` when needed, never persisted nor compared.
"""

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    Alert,
    Raised,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
    unreported_after,
)
from stream.detection.baseline import (
    HOUR_US,
    Baseline,
    baseline_from_dict,
    baseline_to_dict,
    expectation,
    hour_of_week,
    update_baseline,
    zscore,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.owners import Owners, own
from stream.detection.recency import Entry, Recency, count_since, drop_until, first_time, later_than

KIND = "bulk_access_spike"
VERSION = "1"
_SECOND_US = 1_000_000
WINDOWS: tuple[tuple[str, int], ...] = (("1m", 60), ("5m", 300), ("1h", 3600))
_LONGEST_US = WINDOWS[-1][1] * _SECOND_US
_SHORT_US = tuple(s * _SECOND_US for _, s in WINDOWS[:-1])  # kept beside `seen` (the hour)

Seen = Recency  # patient pseudonym -> (last time, request id), oldest first


@dataclass(slots=True)
class BulkState:
    seen: Seen = field(default_factory=OrderedDict)
    latest_us: int = 0
    hour_index: int = -1  # clock hour (ts // 1 h) not yet folded into the baseline; -1: none
    baseline: Baseline = field(default_factory=Baseline)
    open_alert: Alert | None = None
    # derived: the 1 and 5 min windows (None until `seen` could reach their floors), and
    # [clock hour, entries of `seen` in it] (hour -1 until the baseline asks)
    recent: tuple[Seen, ...] | None = field(default=None, compare=False, repr=False)
    this_hour: list[int] = field(default_factory=lambda: [-1, 0], compare=False, repr=False)


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
            now = _admit(state, event, config)
            if len(state.seen) < quiet and not _learned(state.baseline):
                continue  # the common case: no floor within reach, no baseline yet
            alert = _judge(state, event.principal, now, config, limits, need)
            if alert is not None:
                raised.append((index, alert))
        return raised

    def copy(self, state: BulkState) -> BulkState:
        return BulkState(
            state.seen.copy(),
            state.latest_us,
            state.hour_index,
            state.baseline,
            state.open_alert,
            None if state.recent is None else tuple(w.copy() for w in state.recent),
            list(state.this_hour),
        )

    def compact(self, state: BulkState, now_us: int, config: DetectionConfig) -> BulkState | None:
        """Pure: the state itself when nothing is stale, None when nothing is worth keeping."""
        fold = 0 <= state.hour_index < now_us // HOUR_US
        baseline = _folded(state, config.baseline_alpha) if fold else state.baseline
        hour_index = -1 if fold else state.hour_index
        open_alert = state.open_alert
        expired = open_alert is not None and not open_alert.open_at(now_us)
        open_alert = None if expired else open_alert
        stale = bool(state.seen) and first_time(state.seen) <= now_us - _LONGEST_US
        seen = later_than(state.seen, now_us - _LONGEST_US) if stale else state.seen
        if not seen and open_alert is None and hour_index < 0 and baseline.overall.n == 0:
            return None
        if not (fold or expired or stale):
            return state
        return _rebuilt(seen, state.latest_us, hour_index, baseline, open_alert)

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
        return _rebuilt(
            OrderedDict(entries),
            int(data["latest_us"]),
            int(data["hour_index"]),
            baseline_from_dict(data["baseline"]),
            optional_alert_from_dict(data["open_alert"]),
        )


def _at(item: tuple[str, tuple[int, str]]) -> int:
    return item[1][0]


def _rebuilt(
    seen: Seen, latest_us: int, hour_index: int, baseline: Baseline, open_alert: Alert | None
) -> BulkState:
    """A state of its own (a copy of `seen`); its derived parts are rebuilt when needed."""
    return BulkState(OrderedDict(seen), latest_us, hour_index, baseline, open_alert)


def _folded(state: BulkState, alpha: float) -> Baseline:
    """The baseline with the pending clock hour's distinct count joined (every entry is at
    or before the latest time, which lies in that hour)."""
    start = state.hour_index * HOUR_US
    value = count_since(state.seen, start)
    return update_baseline(state.baseline, hour_of_week(start), value, alpha)


def _learned(baseline: Baseline) -> bool:
    return bool(baseline.hours) or baseline.overall.n > 0


def _judge(
    state: BulkState,
    who: str,
    now: int,
    config: DetectionConfig,
    limits: tuple[int, ...],
    need: int,
) -> Alert | None:
    if state.recent is None and len(state.seen) >= need:
        state.recent = tuple(later_than(state.seen, now - span) for span in _SHORT_US)
    position = _reached(state, limits)
    trigger = None if position >= 0 else _baseline_trigger(state, now, config, who)
    if position < 0 and trigger is None:
        return None
    counts = _counts(state, now)
    if trigger is None:
        label, seconds = WINDOWS[position]
        text = f"{who}: {counts[position]} distinct patients within {label}"
        trigger = _Trigger(now - seconds * _SECOND_US, f"{text} (floor {limits[position]})")
    fresh = _alert(state, who, counts, trigger, config)
    state.open_alert = raise_alert(state.open_alert, fresh)
    return state.open_alert


def _admit(state: BulkState, event: DetectionEvent, config: DetectionConfig) -> int:
    """Take the event in at the principal's latest time `now` (returned): the last hour's
    patients plus the event's, oldest first, capped. A clock hour that ended is folded into
    the baseline first."""
    now = max(state.latest_us, event.ts_us)
    hour, seen = now // HOUR_US, state.seen
    if 0 <= state.hour_index < hour:
        state.baseline = _folded(state, config.baseline_alpha)
    if seen and first_time(seen) <= now - _LONGEST_US:
        drop_until(seen, now - _LONGEST_US)
    entry, cap = (now, event.request_id), config.max_tracked_patients
    if state.recent is None and state.this_hour[0] != hour:  # the common case: nothing derived
        for patient in event.patient_hashes:
            seen.pop(patient, None)
            seen[patient] = entry
        while len(seen) > cap:
            seen.popitem(last=False)
    else:
        _admit_derived(state, event.patient_hashes, entry, hour, cap)
    state.latest_us, state.hour_index = now, hour
    return now


def _admit_derived(
    state: BulkState, patients: tuple[str, ...], entry: Entry, hour: int, cap: int
) -> None:
    """`_admit` keeping the derived parts in step: the short windows slid alike, the count
    of this clock hour (when it is kept)."""
    seen, tally, now = state.seen, state.this_hour, entry[0]
    windows = state.recent or ()
    for window, span in zip(windows, _SHORT_US, strict=False):
        drop_until(window, now - span)
    counting, start = tally[0] == hour, hour * HOUR_US
    for patient in patients:
        old = seen.pop(patient, None)
        if counting and (old is None or old[0] < start):
            tally[1] += 1
        seen[patient] = entry
        for window in windows:
            window.pop(patient, None)
            window[patient] = entry
    while len(seen) > cap:
        if seen.popitem(last=False)[1][0] >= start and counting:
            tally[1] -= 1
    for window in windows:
        while len(window) > cap:
            window.popitem(last=False)


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


def _counts(state: BulkState, now_us: int) -> tuple[int, ...]:
    """Distinct patients per sliding window (now - w, now]."""
    if state.recent is not None:
        return (*map(len, state.recent), len(state.seen))
    short = (len(later_than(state.seen, now_us - span)) for span in _SHORT_US)
    return (*short, len(state.seen))


def _hour_count(state: BulkState, hour: int) -> int:
    """Entries of `seen` in this clock hour: counted once, then kept by `_admit`."""
    if state.this_hour[0] != hour:
        state.this_hour[:] = [hour, count_since(state.seen, hour * HOUR_US)]
    return state.this_hour[1]


def _baseline_trigger(
    state: BulkState, now_us: int, config: DetectionConfig, who: str
) -> _Trigger | None:
    baseline = state.baseline
    if not _learned(baseline):
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
    value = _hour_count(state, now_us // HOUR_US)  # the entries later than `since`
    z = zscore(stats, value, config.baseline_min_std)
    if value < config.baseline_min_distinct or z < config.baseline_z_threshold:
        return None
    text = f"{who}: {value} distinct patients this hour, usually {stats.mean:.1f} (z {z:.1f})"
    extra = (("distinct_patients_this_hour", value), ("baseline_mean", round(stats.mean)))
    return _Trigger(since, text, (*extra, ("zscore", int(z))))


def _alert(
    state: BulkState,
    principal: str,
    counts: tuple[int, ...],
    trigger: _Trigger,
    config: DetectionConfig,
) -> Alert:
    since = unreported_after(state.open_alert, state.latest_us, trigger.since_us)
    first_seen, request_ids = _evidence(state.seen, since)
    named = [
        (f"distinct_patients_{label}", n) for (label, _), n in zip(WINDOWS, counts, strict=True)
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
