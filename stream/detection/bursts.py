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
Incremental: the window is a deque slid in place (the state is owned by the engine), with
running tallies (entries per status or per target, misses) kept beside it, so an event
costs O(1) amortised; the tallies are rebuilt from the entries on load.
"""

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    Alert,
    Raised,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
    unreported_after,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DENY, DetectionEvent
from stream.detection.owners import Owners, own

_SECOND_US = 1_000_000
NOT_FOUND = "not_found"

# (time, request id, status, target, missed)
Entry = tuple[int, str, int, str, bool]
_STATUS, _TARGET = 2, 3


@dataclass(slots=True)
class WindowState:
    entries: deque[Entry] = field(default_factory=deque)
    latest_us: int = 0
    open_alert: Alert | None = None
    tally: dict[Any, int] = field(default_factory=dict, compare=False, repr=False)
    misses: int = field(default=0, compare=False, repr=False)


class _WindowRule:
    kind = ""
    version = "1"
    window_s = 60
    tallied = _STATUS  # the entry field counted in `tally`

    def relevant(self, events: Sequence[DetectionEvent], config: DetectionConfig) -> list[int]:
        """The positions of the events that enter the window."""
        raise NotImplementedError

    def entry(self, event: DetectionEvent, now_us: int) -> Entry:
        raise NotImplementedError

    def fires(self, state: WindowState, who: str, config: DetectionConfig) -> Alert | None:
        raise NotImplementedError

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        """In place: each relevant event slides its principal's window, then is judged."""
        raised: Raised = []
        for index in self.relevant(events, config):
            event = events[index]
            state = own(owners[index], self.kind, WindowState)
            self.slide(state, self.entry(event, max(state.latest_us, event.ts_us)), config)
            alert = self.fires(state, event.principal, config)
            if alert is not None:
                state.open_alert = alert
                raised.append((index, alert))
        return raised

    def slide(self, state: WindowState, entry: Entry, config: DetectionConfig) -> None:
        """The window (now - window_s, now] after `entry`, whose time is the latest seen (an
        older, late, event counts as happening now, so entries stay ordered by time)."""
        entries, cutoff = state.entries, entry[0] - self.window_s * _SECOND_US
        while entries and entries[0][0] <= cutoff:
            self._forget(state, entries.popleft())
        entries.append(entry)
        key, tally = entry[self.tallied], state.tally
        tally[key] = tally.get(key, 0) + 1
        state.misses += entry[4]
        while len(entries) > config.max_window_entries:
            self._forget(state, entries.popleft())
        state.latest_us = entry[0]

    def _forget(self, state: WindowState, entry: Entry) -> None:
        key = entry[self.tallied]
        left = state.tally[key] - 1
        if left:
            state.tally[key] = left
        else:
            del state.tally[key]
        state.misses -= entry[4]

    def copy(self, state: WindowState) -> WindowState:
        entries, tally = state.entries.copy(), state.tally.copy()
        return WindowState(entries, state.latest_us, state.open_alert, tally, state.misses)

    def _with(self, entries: Any, latest_us: int, open_alert: Alert | None) -> WindowState:
        """A state of `entries` (in time order), its tallies counted."""
        state = WindowState(deque(entries), latest_us, open_alert)
        for entry in state.entries:
            key = entry[self.tallied]
            state.tally[key] = state.tally.get(key, 0) + 1
            state.misses += entry[4]
        return state

    def compact(
        self, state: WindowState, now_us: int, config: DetectionConfig
    ) -> WindowState | None:
        """Pure: the state itself when nothing is stale, None when nothing is left."""
        cutoff = now_us - self.window_s * _SECOND_US
        stale = bool(state.entries) and state.entries[0][0] <= cutoff
        open_alert = state.open_alert
        expired = open_alert is not None and not open_alert.open_at(now_us)
        open_alert = None if expired else open_alert
        entries = [e for e in state.entries if e[0] > cutoff] if stale else state.entries
        if not entries and open_alert is None:
            return None
        return self._with(entries, state.latest_us, open_alert) if stale or expired else state

    def state_to_dict(self, state: WindowState) -> dict[str, Any]:
        return {
            "entries": [list(e) for e in state.entries],
            "latest_us": state.latest_us,
            "open_alert": optional_alert_to_dict(state.open_alert),
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> WindowState:
        entries = (
            (int(ts), str(rid), int(status), str(target), bool(missed))
            for ts, rid, status, target, missed in data["entries"]
        )
        return self._with(
            entries, int(data["latest_us"]), optional_alert_from_dict(data["open_alert"])
        )


def _window_alert(
    rule: _WindowRule,
    state: WindowState,
    principal: str,
    counts: list[tuple[str, int]],
    summary: str,
    config: DetectionConfig,
) -> Alert:
    since = unreported_after(state.open_alert, state.latest_us, -1)
    newest_first = []
    for entry in reversed(state.entries):  # the entries later than `since`
        if entry[0] <= since:
            break
        newest_first.append(entry)
    fresh = new_alert(
        kind=rule.kind,
        severity=config.severity(rule.kind),
        principal=principal,
        ts_us=state.latest_us,
        window_s=config.alert_window_s,
        counts=counts,
        rule_version=rule.version,
        request_ids=[e[1] for e in reversed(newest_first)],
        summary=summary,
        first_seen_us=newest_first[-1][0] if newest_first else None,
    )
    return raise_alert(state.open_alert, fresh)


class DeniedBurst(_WindowRule):
    kind = "denied_burst"
    version = "1"
    window_s = 60
    tallied = _STATUS

    def relevant(self, events: Sequence[DetectionEvent], config: DetectionConfig) -> list[int]:
        return [i for i, event in enumerate(events) if event.decision == DENY]

    def entry(self, event: DetectionEvent, now_us: int) -> Entry:
        return (now_us, event.request_id, event.status, "", True)

    def fires(self, state: WindowState, who: str, config: DetectionConfig) -> Alert | None:
        denials = len(state.entries)
        floor = config.denied_burst_floor_1m
        if denials < floor:
            return None
        counts = [("denials_1m", denials)]
        counts += [(f"status_{s}", state.tally[s]) for s in sorted(state.tally)]
        text = f"{who}: {denials} denied requests within 1 min (floor {floor})"
        return _window_alert(self, state, who, counts, text, config)


class Enumeration(_WindowRule):
    kind = "enumeration"
    version = "1"
    window_s = 300
    tallied = _TARGET

    def relevant(self, events: Sequence[DetectionEvent], config: DetectionConfig) -> list[int]:
        actions = config.enumeration_actions
        return [i for i, event in enumerate(events) if event.action in actions]

    def entry(self, event: DetectionEvent, now_us: int) -> Entry:
        missed = event.status == 404 or NOT_FOUND in event.reasons
        target = event.resource_hashes[0] if event.resource_hashes else f"?{event.event_id}"
        return (now_us, event.request_id, event.status, target, missed)

    def fires(self, state: WindowState, who: str, config: DetectionConfig) -> Alert | None:
        probes, misses = len(state.entries), state.misses
        if misses < config.enumeration_not_found_floor_5m and (
            misses < config.enumeration_miss_ratio * probes
        ):
            return None  # the common case: neither condition of `_probing` can hold
        targets = len(state.tally)
        if not _probing(probes, misses, targets, config):
            return None
        counts = [("probes_5m", probes), ("not_found_5m", misses), ("distinct_targets_5m", targets)]
        text = (
            f"{who}: {misses} of {probes} id lookups found nothing, "
            f"{targets} distinct targets within 5 min"
        )
        return _window_alert(self, state, who, counts, text, config)


def _probing(probes: int, misses: int, targets: int, config: DetectionConfig) -> bool:
    if misses >= config.enumeration_not_found_floor_5m:
        return True
    wide = targets >= config.enumeration_fanout_floor_5m
    return wide and misses >= config.enumeration_miss_ratio * probes
