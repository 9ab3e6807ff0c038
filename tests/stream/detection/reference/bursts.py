"""Rules over sliding windows of a principal's own events.

- denied_burst: denials (decision deny, whatever the reason: 401, 403, 404-hidden, 429...)
  in a sliding minute; fires at the `denied_burst_floor_1m`-th.
- enumeration: id-targeted requests (`enumeration_actions`) in a sliding 5 minutes; fires on
  `enumeration_not_found_floor_5m` misses (404: absent or hidden), or on a fan-out of
  `enumeration_fanout_floor_5m` distinct targets of which at least `enumeration_miss_ratio`
  missed. A miss names no resource pseudonym (nothing was found), so each counts as one
  distinct target. Pseudonyms hide id order, so "near-sequential" probing shows as this
  fan-out of misses.

A window keeps at most `max_window_entries` events per principal (oldest dropped first).
"""

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from stream.detection.alerts import (
    Alert,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
    unreported_after,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DENY, DetectionEvent

_SECOND_US = 1_000_000
NOT_FOUND = "not_found"

# (time, request id, status, target, missed)
Entry = tuple[int, str, int, str, bool]
_TARGET, _MISSED = itemgetter(3), itemgetter(4)


@dataclass(frozen=True, slots=True)
class WindowState:
    entries: tuple[Entry, ...] = ()
    latest_us: int = 0
    open_alert: Alert | None = None


def _time(entry: Entry) -> int:
    return entry[0]


def slide(state: WindowState, entry: Entry, window_s: int, cap: int) -> WindowState:
    """The window (now - window_s, now] after `entry`, now being the latest time seen; an
    older (late) event counts as happening now, so entries stay ordered by time."""
    now = max(state.latest_us, entry[0])
    start = bisect_right(state.entries, now - window_s * _SECOND_US, key=_time)
    kept = (*state.entries[start:], (now, *entry[1:]))
    return replace(state, entries=kept[-cap:], latest_us=now)


def _window_alert(
    state: WindowState,
    kind: str,
    version: str,
    principal: str,
    counts: list[tuple[str, int]],
    summary: str,
    config: DetectionConfig,
) -> tuple[WindowState, list[Alert]]:
    since = unreported_after(state.open_alert, state.latest_us, -1)
    ordered = state.entries[bisect_right(state.entries, since, key=_time) :]
    fresh = new_alert(
        kind=kind,
        severity=config.severity(kind),
        principal=principal,
        ts_us=state.latest_us,
        window_s=config.alert_window_s,
        counts=counts,
        rule_version=version,
        request_ids=[e[1] for e in ordered],
        summary=summary,
        first_seen_us=ordered[0][0] if ordered else None,
    )
    alert = raise_alert(state.open_alert, fresh)
    return replace(state, open_alert=alert), [alert]


class _WindowRule:
    window_s = 60

    def initial(self) -> WindowState:
        return WindowState()

    def compact(
        self, state: WindowState, now_us: int, config: DetectionConfig
    ) -> WindowState | None:
        start = bisect_right(state.entries, now_us - self.window_s * _SECOND_US, key=_time)
        entries = state.entries[start:]
        open_alert = state.open_alert
        if open_alert is not None and not open_alert.open_at(now_us):
            open_alert = None
        if not entries and open_alert is None:
            return None
        return replace(state, entries=entries, open_alert=open_alert)

    def state_to_dict(self, state: WindowState) -> dict[str, Any]:
        return {
            "entries": [list(e) for e in state.entries],
            "latest_us": state.latest_us,
            "open_alert": optional_alert_to_dict(state.open_alert),
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> WindowState:
        entries = tuple(
            (int(ts), str(rid), int(status), str(target), bool(missed))
            for ts, rid, status, target, missed in data["entries"]
        )
        return WindowState(
            entries, int(data["latest_us"]), optional_alert_from_dict(data["open_alert"])
        )


class DeniedBurst(_WindowRule):
    kind = "denied_burst"
    version = "1"
    window_s = 60

    def evaluate(
        self, state: WindowState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[WindowState, list[Alert]]:
        if event.decision != DENY:
            return state, []
        entry = (event.ts_us, event.request_id, event.status, "", True)
        state = slide(state, entry, self.window_s, config.max_window_entries)
        denials = len(state.entries)
        floor = config.denied_burst_floor_1m
        if denials < floor:
            return state, []
        statuses = sorted({e[2] for e in state.entries})
        counts = [("denials_1m", denials)]
        counts += [(f"status_{s}", sum(e[2] == s for e in state.entries)) for s in statuses]
        text = f"{event.principal}: {denials} denied requests within 1 min (floor {floor})"
        return _window_alert(state, self.kind, self.version, event.principal, counts, text, config)


class Enumeration(_WindowRule):
    kind = "enumeration"
    version = "1"
    window_s = 300

    def evaluate(
        self, state: WindowState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[WindowState, list[Alert]]:
        if event.action not in config.enumeration_actions:
            return state, []
        missed = event.status == 404 or NOT_FOUND in event.reasons
        target = event.resource_hashes[0] if event.resource_hashes else f"?{event.event_id}"
        entry = (event.ts_us, event.request_id, event.status, target, missed)
        state = slide(state, entry, self.window_s, config.max_window_entries)
        probes = len(state.entries)
        misses = sum(map(_MISSED, state.entries))
        if not _may_probe(probes, misses, config):
            return state, []  # the common case: no set of targets to build
        targets = len(set(map(_TARGET, state.entries)))
        if not _probing(probes, misses, targets, config):
            return state, []
        counts = [("probes_5m", probes), ("not_found_5m", misses), ("distinct_targets_5m", targets)]
        text = (
            f"{event.principal}: {misses} of {probes} id lookups found nothing, "
            f"{targets} distinct targets within 5 min"
        )
        return _window_alert(state, self.kind, self.version, event.principal, counts, text, config)


def _may_probe(probes: int, misses: int, config: DetectionConfig) -> bool:
    """The part of `_probing` that needs no distinct-target count (cheap to check first)."""
    if misses >= config.enumeration_not_found_floor_5m:
        return True
    return probes >= config.enumeration_fanout_floor_5m and (
        misses >= config.enumeration_miss_ratio * probes
    )


def _probing(probes: int, misses: int, targets: int, config: DetectionConfig) -> bool:
    if misses >= config.enumeration_not_found_floor_5m:
        return True
    wide = targets >= config.enumeration_fanout_floor_5m
    return wide and misses >= config.enumeration_miss_ratio * probes
