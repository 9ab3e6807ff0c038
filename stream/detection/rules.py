"""The Rule protocol and the rules shipped by default.

A rule sees a batch of events at once, in order, and the state of each event's principal
(the engine partitions state by principal, as Kafka does): `observe(events, owners, config)`
gets, aligned with the events, their principals' mappings kind -> state (see `owners`),
changes its own states there in place (no copy per event) and creates one only for an event
that concerns it; it returns the alerts raised or updated, each with the index of the
event that raised it. The states are mutable and owned by the caller; `copy` gives an
independent one. No clock (time is the event's), no randomness, no I/O. States persist
through `state_to_dict` / `state_from_dict` (plain JSON values) and are bounded: windows are
pruned and capped, and `compact(state, now_us, config)` drops what has gone stale without
touching its input (the state itself when nothing changes, a new one otherwise, None:
nothing worth keeping).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from stream.detection.alerts import Raised
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
from stream.detection.owners import Owners
from stream.detection.per_event import (
    BREAK_GLASS_RULE,
    EXPORT_RULE,
    SAME_SURNAME_RULE,
    SELF_GRANT_RULE,
    STAFF_RULE,
    VIP_RULE,
    EpisodeState,
    EventRule,
)
from stream.detection.probing import SearchProbing
from stream.detection.unexplained import UnexplainedAccess

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
    "SearchProbing",
    "Stats",
    "UnexplainedAccess",
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

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised: ...

    def copy(self, state: S) -> S: ...

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
    SELF_GRANT_RULE,
    SearchProbing(),
    UnexplainedAccess(),
)


def rules_by_kind(rules: tuple[Rule[Any], ...] = DEFAULT_RULES) -> dict[str, Rule[Any]]:
    return {rule.kind: rule for rule in rules}
