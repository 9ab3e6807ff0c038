"""The Rule protocol and the rules shipped by default.

A rule is pure: `evaluate(state, event, config)` looks at one event with the state of that
event's principal (the engine partitions by principal, as Kafka does) and returns the new
state and the alerts it raised or updated. No clock (time is the event's), no randomness,
no I/O. Each rule's state is its own frozen type, persisted through `state_to_dict` /
`state_from_dict` (plain JSON values), and bounded: windows are pruned and capped, and
`compact(state, now_us, config)` drops what has gone stale (None: nothing worth keeping).
"""

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from stream.detection.alerts import Alert
from stream.detection.baseline import (
    Baseline,
    Stats,
    baseline_from_dict,
    baseline_to_dict,
    hour_of_week,
    update_baseline,
)
from stream.detection.bulk import BulkAccessSpike, BulkState
from stream.detection.bursts import DeniedBurst, Enumeration, WindowState
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.habits import AfterHours, DormantPrincipal, DormantState, HoursState
from stream.detection.per_event import (
    BREAK_GLASS_RULE,
    EXPORT_RULE,
    SAME_SURNAME_RULE,
    STAFF_RULE,
    VIP_RULE,
    EpisodeState,
    EventRule,
)

S = TypeVar("S")

__all__ = [
    "DEFAULT_RULES",
    "AfterHours",
    "Baseline",
    "BulkAccessSpike",
    "BulkState",
    "DeniedBurst",
    "DormantPrincipal",
    "DormantState",
    "Enumeration",
    "EpisodeState",
    "EventRule",
    "HoursState",
    "Rule",
    "Stats",
    "WindowState",
    "baseline_from_dict",
    "baseline_to_dict",
    "hour_of_week",
    "rules_by_kind",
    "update_baseline",
]


class Rule(Protocol[S]):
    @property
    def kind(self) -> str: ...

    @property
    def version(self) -> str: ...

    def initial(self) -> S: ...

    def evaluate(
        self, state: S, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[S, list[Alert]]: ...

    def compact(self, state: S, now_us: int, config: DetectionConfig) -> S | None: ...

    def state_to_dict(self, state: S) -> dict[str, Any]: ...

    def state_from_dict(self, data: Mapping[str, Any]) -> S: ...


DEFAULT_RULES: tuple[Rule[Any], ...] = (
    BulkAccessSpike(),
    DeniedBurst(),
    Enumeration(),
    BREAK_GLASS_RULE,
    EXPORT_RULE,
    VIP_RULE,
    STAFF_RULE,
    SAME_SURNAME_RULE,
    AfterHours(),
    DormantPrincipal(),
)


def rules_by_kind(rules: tuple[Rule[Any], ...] = DEFAULT_RULES) -> dict[str, Rule[Any]]:
    return {rule.kind: rule for rule in rules}
