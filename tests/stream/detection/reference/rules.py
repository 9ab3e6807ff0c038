"""The rules as they were before the incremental rewrite (immutable state, one event at a
time, copied on every event): kept verbatim as the oracle of tests/stream/detection/
test_incremental.py. Not used by the product."""

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from stream.detection.alerts import Alert
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from tests.stream.detection.reference.bulk import BulkAccessSpike
from tests.stream.detection.reference.bursts import DeniedBurst, Enumeration
from tests.stream.detection.reference.habits import AfterHours, DormantPrincipal
from tests.stream.detection.reference.per_event import (
    BREAK_GLASS_RULE,
    EXPORT_RULE,
    SAME_SURNAME_RULE,
    SELF_GRANT_RULE,
    STAFF_RULE,
    VIP_RULE,
)

S = TypeVar("S")


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
    SELF_GRANT_RULE,
)
