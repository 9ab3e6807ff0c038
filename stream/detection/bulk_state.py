"""The state of bulk_access_spike, per principal, and how an event enters it.

The patients returned in the last hour (`seen`: pseudonym -> last time and request id,
ordered by that time, at most `max_tracked_patients`, oldest dropped first), the clock hour
of the latest activity (folded into the baseline once a later hour starts), the baseline
itself, and the open alert. An event older than the principal's latest counts as happening
at that latest time, so the windows stay ordered and cheap to slide.

Incremental: the state is mutable and owned by the engine (`admit` changes it in place), and
an event costs O(its patients), not O(patients seen). Besides the hour (`seen`), the 1 min
and 5 min windows are kept as recency maps of their own (always the suffix of `seen` later
than latest - window) once `seen` is large enough to reach their floors, and the patients of
the current clock hour as a running count once the baseline asks for it. These derived parts
are rebuilt from `seen` when needed, never persisted nor compared.
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    Alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
)
from stream.detection.baseline import (
    HOUR_US,
    Baseline,
    baseline_from_dict,
    baseline_to_dict,
    hour_of_week,
    update_baseline,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.recency import Entry, Recency, count_since, drop_until, first_time, later_than

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


def copy_state(state: BulkState) -> BulkState:
    return BulkState(
        state.seen.copy(),
        state.latest_us,
        state.hour_index,
        state.baseline,
        state.open_alert,
        None if state.recent is None else tuple(w.copy() for w in state.recent),
        list(state.this_hour),
    )


def compact_state(state: BulkState, now_us: int, config: DetectionConfig) -> BulkState | None:
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


def state_to_dict(state: BulkState) -> dict[str, Any]:
    return {
        "seen": [[p, ts, rid] for p, (ts, rid) in state.seen.items()],
        "latest_us": state.latest_us,
        "hour_index": state.hour_index,
        "baseline": baseline_to_dict(state.baseline),
        "open_alert": optional_alert_to_dict(state.open_alert),
    }


def state_from_dict(data: Mapping[str, Any]) -> BulkState:
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


def learned(baseline: Baseline) -> bool:
    return bool(baseline.hours) or baseline.overall.n > 0


def admit(state: BulkState, event: DetectionEvent, config: DetectionConfig) -> int:
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
    """`admit` keeping the derived parts in step: the short windows slid alike, the count
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


def keep_windows(state: BulkState, now_us: int) -> None:
    """From now on, keep the short windows beside `seen` (derived from it once)."""
    if state.recent is None:
        state.recent = tuple(later_than(state.seen, now_us - span) for span in _SHORT_US)


def counts(state: BulkState, now_us: int) -> tuple[int, ...]:
    """Distinct patients per sliding window (now - w, now]."""
    if state.recent is not None:
        return (*map(len, state.recent), len(state.seen))
    short = (len(later_than(state.seen, now_us - span)) for span in _SHORT_US)
    return (*short, len(state.seen))


def hour_count(state: BulkState, hour: int) -> int:
    """Entries of `seen` in this clock hour: counted once, then kept by `admit`."""
    if state.this_hour[0] != hour:
        state.this_hour[:] = [hour, count_since(state.seen, hour * HOUR_US)]
    return state.this_hour[1]
