"""Rules learned from a principal's own history.

- after_hours: a 24-bucket histogram (hour of day, UTC) of all the principal's events and
  the time of its first one. An allowed or partial access fires when the history holds at
  least `after_hours_min_history` events over at least `after_hours_min_span_s`, and the
  event's hour holds less than `after_hours_max_share` of them. The event is counted after
  being judged; the histogram is halved whenever it exceeds `after_hours_history_cap`
  events (bounded memory, slow forgetting).
- dormant_principal: the first event after `dormant_after_s` of silence (a principal seen
  for the first time is new, not dormant).

Unauthenticated traffic (principal `anonymous`) has no habits and is skipped.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    Alert,
    Raised,
    episode_count,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import ALLOW, PARTIAL, DetectionEvent
from stream.detection.owners import Owners, own

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
ANONYMOUS = "anonymous"


@dataclass(slots=True)
class HoursState:
    """Mutable, owned by the engine; `total` is the histogram's sum, kept beside it."""

    histogram: list[int] = field(default_factory=lambda: [0] * 24)
    open_alert: Alert | None = None
    since_us: int = -1  # the first event learned; -1: none yet
    total: int = field(default=0, compare=False, repr=False)


class AfterHours:
    kind = "after_hours"
    version = "1"

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        """In place: each event is judged against its principal's history, then learned."""
        least = config.after_hours_min_history  # a shorter history is never judged
        raised: Raised = []
        for index, event in enumerate(events):
            if event.principal == ANONYMOUS:
                continue
            state = own(owners[index], self.kind, HoursState)
            hour = event.ts_us // HOUR_US % 24
            judged = state.total >= least and event.decision in (ALLOW, PARTIAL)
            if judged and _unusual(state, hour, event.ts_us, config):
                fresh = self._alert(state, event, hour, config)
                state.open_alert = raise_alert(state.open_alert, fresh)
                raised.append((index, state.open_alert))
            _learn(state, hour, event.ts_us, config)
        return raised

    def _alert(
        self, state: HoursState, event: DetectionEvent, hour: int, config: DetectionConfig
    ) -> Alert:
        events = episode_count(state.open_alert, event.ts_us, "events") + 1
        total = state.total
        share = 100.0 * state.histogram[hour] / total
        return new_alert(
            kind=self.kind,
            severity=config.severity(self.kind),
            principal=event.principal,
            ts_us=event.ts_us,
            window_s=config.alert_window_s,
            counts=[("events", events), ("history_events", total)],
            rule_version=self.version,
            request_ids=[event.request_id],
            summary=(
                f"{event.principal}: access at {hour:02d}h UTC, an hour holding "
                f"{share:.1f}% of its {total} past events"
            ),
        )

    def copy(self, state: HoursState) -> HoursState:
        return HoursState(list(state.histogram), state.open_alert, state.since_us, state.total)

    def compact(self, state: HoursState, now_us: int, config: DetectionConfig) -> HoursState:
        """Pure: the state itself unless its open alert is over."""
        if state.open_alert is not None and not state.open_alert.open_at(now_us):
            return HoursState(list(state.histogram), None, state.since_us, state.total)
        return state

    def state_to_dict(self, state: HoursState) -> dict[str, Any]:
        return {
            "histogram": list(state.histogram),
            "open_alert": optional_alert_to_dict(state.open_alert),
            "since_us": state.since_us,
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> HoursState:
        histogram = [int(v) for v in data["histogram"]]
        if len(histogram) != 24:
            raise ValueError("an hour-of-day histogram has 24 buckets")
        open_alert = optional_alert_from_dict(data["open_alert"])
        return HoursState(histogram, open_alert, int(data["since_us"]), sum(histogram))


def _unusual(state: HoursState, hour: int, ts_us: int, config: DetectionConfig) -> bool:
    total = state.total
    if total < config.after_hours_min_history or state.since_us < 0:
        return False
    if ts_us - state.since_us < config.after_hours_min_span_s * 1_000_000:
        return False
    return state.histogram[hour] < config.after_hours_max_share * total


def _learn(state: HoursState, hour: int, ts_us: int, config: DetectionConfig) -> None:
    """Count the event; halve the histogram once it holds more than the cap."""
    state.since_us = ts_us if state.since_us < 0 else min(state.since_us, ts_us)
    state.histogram[hour] += 1
    state.total += 1
    if state.total > config.after_hours_history_cap:
        state.histogram[:] = [v // 2 for v in state.histogram]
        state.total = sum(state.histogram)


@dataclass(slots=True)
class DormantState:
    last_seen_us: int = -1  # -1: never seen


class DormantPrincipal:
    kind = "dormant_principal"
    version = "1"

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        """In place: the first event after `dormant_after_s` of silence raises."""
        silent_us = config.dormant_after_s * 1_000_000
        raised: Raised = []
        for index, event in enumerate(events):
            if event.principal == ANONYMOUS:
                continue
            state = own(owners[index], self.kind, DormantState)
            last = state.last_seen_us
            if last >= 0 and event.ts_us - last >= silent_us:
                raised.append((index, self._alert(event, event.ts_us - last, config)))
            state.last_seen_us = max(last, event.ts_us)
        return raised

    def _alert(self, event: DetectionEvent, silence_us: int, config: DetectionConfig) -> Alert:
        days = silence_us // DAY_US
        return new_alert(
            kind=self.kind,
            severity=config.severity(self.kind),
            principal=event.principal,
            ts_us=event.ts_us,
            window_s=config.alert_window_s,
            counts=[("silent_days", days)],
            rule_version=self.version,
            request_ids=[event.request_id],
            summary=f"{event.principal}: first activity after {days} days of silence",
        )

    def copy(self, state: DormantState) -> DormantState:
        return DormantState(state.last_seen_us)

    def compact(self, state: DormantState, now_us: int, config: DetectionConfig) -> DormantState:
        return state

    def state_to_dict(self, state: DormantState) -> dict[str, Any]:
        return {"last_seen_us": state.last_seen_us}

    def state_from_dict(self, data: Mapping[str, Any]) -> DormantState:
        return DormantState(int(data["last_seen_us"]))
