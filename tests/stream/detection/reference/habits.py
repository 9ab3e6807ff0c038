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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from stream.detection.alerts import (
    Alert,
    episode_count,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import ALLOW, PARTIAL, DetectionEvent

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class HoursState:
    histogram: tuple[int, ...] = (0,) * 24
    open_alert: Alert | None = None
    since_us: int = -1  # the first event learned; -1: none yet


class AfterHours:
    kind = "after_hours"
    version = "1"

    def initial(self) -> HoursState:
        return HoursState()

    def evaluate(
        self, state: HoursState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[HoursState, list[Alert]]:
        if event.principal == ANONYMOUS:
            return state, []
        hour = event.ts_us // HOUR_US % 24
        since = event.ts_us if state.since_us < 0 else min(state.since_us, event.ts_us)
        learned = replace(state, histogram=_count(state.histogram, hour, config), since_us=since)
        total = sum(state.histogram)
        if not _unusual(state, hour, event.ts_us, config):
            return learned, []
        if event.decision not in (ALLOW, PARTIAL):
            return learned, []
        alert = raise_alert(state.open_alert, self._alert(state, event, hour, total, config))
        return replace(learned, open_alert=alert), [alert]

    def _alert(
        self,
        state: HoursState,
        event: DetectionEvent,
        hour: int,
        total: int,
        config: DetectionConfig,
    ) -> Alert:
        events = episode_count(state.open_alert, event.ts_us, "events") + 1
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

    def compact(self, state: HoursState, now_us: int, config: DetectionConfig) -> HoursState:
        if state.open_alert is not None and not state.open_alert.open_at(now_us):
            return replace(state, open_alert=None)
        return state

    def state_to_dict(self, state: HoursState) -> dict[str, Any]:
        return {
            "histogram": list(state.histogram),
            "open_alert": optional_alert_to_dict(state.open_alert),
            "since_us": state.since_us,
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> HoursState:
        histogram = tuple(int(v) for v in data["histogram"])
        if len(histogram) != 24:
            raise ValueError("an hour-of-day histogram has 24 buckets")
        open_alert = optional_alert_from_dict(data["open_alert"])
        return HoursState(histogram, open_alert, int(data["since_us"]))


def _unusual(state: HoursState, hour: int, ts_us: int, config: DetectionConfig) -> bool:
    total = sum(state.histogram)
    if total < config.after_hours_min_history or state.since_us < 0:
        return False
    if ts_us - state.since_us < config.after_hours_min_span_s * 1_000_000:
        return False
    return state.histogram[hour] < config.after_hours_max_share * total


def _count(histogram: tuple[int, ...], hour: int, config: DetectionConfig) -> tuple[int, ...]:
    counted = (*histogram[:hour], histogram[hour] + 1, *histogram[hour + 1 :])
    if sum(counted) > config.after_hours_history_cap:
        return tuple(v // 2 for v in counted)
    return counted


@dataclass(frozen=True, slots=True)
class DormantState:
    last_seen_us: int = -1  # -1: never seen


class DormantPrincipal:
    kind = "dormant_principal"
    version = "1"

    def initial(self) -> DormantState:
        return DormantState()

    def evaluate(
        self, state: DormantState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[DormantState, list[Alert]]:
        if event.principal == ANONYMOUS:
            return state, []
        updated = DormantState(max(state.last_seen_us, event.ts_us))
        silence = event.ts_us - state.last_seen_us
        if state.last_seen_us < 0 or silence < config.dormant_after_s * 1_000_000:
            return updated, []
        days = silence // DAY_US
        alert = new_alert(
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
        return updated, [alert]

    def compact(self, state: DormantState, now_us: int, config: DetectionConfig) -> DormantState:
        return state

    def state_to_dict(self, state: DormantState) -> dict[str, Any]:
        return {"last_seen_us": state.last_seen_us}

    def state_from_dict(self, data: Mapping[str, Any]) -> DormantState:
        return DormantState(int(data["last_seen_us"]))
