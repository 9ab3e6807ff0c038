"""Pure detection over pseudonymous evidence: rules, alerts, the engine (stdlib only).

No clock, randomness, I/O or framework: time is the events', state is passed in and
returned. The same code runs inline (embedded runtime) and in the faust workers.
"""

from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    SEVERITIES,
    Alert,
    alert_from_dict,
    alert_key,
    alert_to_dict,
    merge,
)
from stream.detection.baseline import (
    Baseline,
    baseline_from_dict,
    baseline_to_dict,
    update_baseline,
)
from stream.detection.config import KINDS, DetectionConfig
from stream.detection.engine import (
    DetectionEngine,
    Suppressions,
    advance,
    compact,
    detect,
    engine_state_from_dict,
    engine_state_to_dict,
    fork,
    principal_baselines,
    principal_state_to_dict,
    with_baselines,
    with_last_seen,
)
from stream.detection.event import DetectionEvent, detection_event_from_row
from stream.detection.rules import DEFAULT_RULES, Rule

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "MAX_REQUEST_IDS",
    "SEVERITIES",
    "Alert",
    "Baseline",
    "DetectionConfig",
    "DetectionEngine",
    "DetectionEvent",
    "Rule",
    "Suppressions",
    "advance",
    "alert_from_dict",
    "alert_key",
    "alert_to_dict",
    "baseline_from_dict",
    "baseline_to_dict",
    "compact",
    "detect",
    "detection_event_from_row",
    "engine_state_from_dict",
    "engine_state_to_dict",
    "fork",
    "merge",
    "principal_baselines",
    "principal_state_to_dict",
    "update_baseline",
    "with_baselines",
    "with_last_seen",
]
