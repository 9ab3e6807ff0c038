"""DetectionConfig: every threshold of every rule, with documented defaults.

Deployments override any of them by name (`DetectionConfig.from_mapping`, e.g. from the
settings' `detection` table); unknown names and wrong types are refused, so a typo never
silently keeps a default.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from stream.detection.alerts import SEVERITIES

KINDS = (
    "bulk_access_spike",
    "denied_burst",
    "enumeration",
    "break_glass",
    "export",
    "vip_access",
    "staff_record_access",
    "same_surname",
    "after_hours",
    "dormant_principal",
    "self_granted_access",
    "search_probing",
    "unexplained_access",
)
DEFAULT_SEVERITIES: Mapping[str, str] = MappingProxyType(
    {
        "bulk_access_spike": "high",
        "denied_burst": "medium",
        "enumeration": "high",
        "break_glass": "medium",
        "export": "medium",
        "vip_access": "high",
        "staff_record_access": "high",
        "same_surname": "medium",
        "after_hours": "low",
        "dormant_principal": "medium",
        "self_granted_access": "high",
        "search_probing": "medium",
        "unexplained_access": "high",
    }
)


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    # bulk_access_spike: distinct patients returned to one principal in sliding windows.
    # The contract requires firing at the latest at 100 distinct patients in 5 minutes.
    bulk_spike_floor_1m: int = 40
    bulk_spike_floor_5m: int = 100
    bulk_spike_floor_1h: int = 400
    # ... or earlier, against the principal's own baseline: EWMA mean/variance of distinct
    # patients per active clock hour, per hour-of-week (UTC, Monday 00h = 0). A bucket is
    # trusted after `baseline_warmup_samples` observed hours; until then the principal's
    # all-hours baseline is used once it holds `baseline_overall_warmup_samples` hours.
    # z = (distinct this hour - mean) / max(std, sqrt(mean), baseline_min_std); fires when
    # z >= threshold and at least `baseline_min_distinct` distinct patients this hour.
    baseline_z_threshold: float = 4.0
    baseline_alpha: float = 0.2
    baseline_warmup_samples: int = 5
    baseline_overall_warmup_samples: int = 24
    baseline_min_std: float = 1.0
    baseline_min_distinct: int = 20
    max_tracked_patients: int = 2000  # per principal; counts saturate there
    # denied_burst: denials (decision deny: 401, 403, 404-hidden, ...) per sliding minute.
    denied_burst_floor_1m: int = 20
    # enumeration, per principal in a sliding 5 minutes over id-targeted actions: many
    # misses (404: not found or hidden), or a wide fan-out of distinct targets that mostly miss.
    enumeration_not_found_floor_5m: int = 30
    enumeration_fanout_floor_5m: int = 50
    enumeration_miss_ratio: float = 0.5
    enumeration_actions: tuple[str, ...] = ("read", "vread")
    max_window_entries: int = 1000  # per principal per sliding window of events
    # after_hours: an hour of day (UTC) holding < max_share of the principal's history,
    # judged only once the history has `after_hours_min_history` events spanning at least
    # `after_hours_min_span_s` (a busy first morning is no picture of usual hours); the
    # history is halved whenever it exceeds `after_hours_history_cap` (bounded, forgetting).
    after_hours_min_history: int = 200
    after_hours_min_span_s: int = 7 * 86_400
    after_hours_max_share: float = 0.02
    after_hours_history_cap: int = 20_000
    # search_probing: distinct patients a principal's searches named but could not see
    # (evidence `probed_patient_hashes`), within a sliding window.
    search_probing_floor: int = 10
    search_probing_window_s: int = 3600
    # unexplained_access: accesses no relationship explains (stream.detection.explained),
    # tallied per principal with exponential decay (time constant tau: a steady r an hour
    # tallies about r). Fires when the decayed distinct patients reach the threshold, or the
    # decayed accesses `unexplained_rate_floor`. The threshold: mean + baseline_z_threshold
    # x spread of the principal's own unexplained patients per active hour (after
    # baseline_overall_warmup_samples hours), else of its peer group's pooled baseline (at
    # least `peer_min_members` peers and `peer_min_samples` hours), kept within
    # [unexplained_min_floor, unexplained_max_floor]; with neither, `unexplained_floor`.
    unexplained_tau_s: int = 3600
    unexplained_floor: int = 10
    unexplained_min_floor: int = 5
    unexplained_max_floor: int = 200
    unexplained_rate_floor: int = 50
    unexplained_max_tracked: int = 500
    peer_min_members: int = 3
    peer_min_samples: int = 5
    # dormant_principal: first event after this much silence.
    dormant_after_s: int = 30 * 86_400
    # Suppression: further triggers within this long after an alert update that alert.
    alert_window_s: int = 3600
    severities: Mapping[str, str] = field(default_factory=lambda: DEFAULT_SEVERITIES)
    disabled_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self)

    def severity(self, kind: str) -> str:
        return self.severities[kind]

    def enabled(self, kind: str) -> bool:
        return kind not in self.disabled_kinds

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, Any]) -> "DetectionConfig":
        """Defaults with `overrides` applied. `severities` may name only some kinds."""
        types = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(overrides) - set(types))
        if unknown:
            raise ValueError(f"unknown detection settings: {unknown}")
        values = {name: _coerce(name, types[name], value) for name, value in overrides.items()}
        if "severities" in values:
            values["severities"] = MappingProxyType({**DEFAULT_SEVERITIES, **values["severities"]})
        return replace(cls(), **values)

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready values (round-trips through from_mapping)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["severities"] = dict(self.severities)
        data["enumeration_actions"] = list(self.enumeration_actions)
        data["disabled_kinds"] = list(self.disabled_kinds)
        return data


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if kind in (int, "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if kind in (float, "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        return float(value)
    if name == "severities":
        if not isinstance(value, Mapping):
            raise ValueError("severities must be a mapping of kind to severity")
        return dict(value)
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of strings")
    if not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


_POSITIVE_INTS = (
    "bulk_spike_floor_1m",
    "bulk_spike_floor_5m",
    "bulk_spike_floor_1h",
    "baseline_warmup_samples",
    "baseline_overall_warmup_samples",
    "baseline_min_distinct",
    "max_tracked_patients",
    "denied_burst_floor_1m",
    "enumeration_not_found_floor_5m",
    "enumeration_fanout_floor_5m",
    "max_window_entries",
    "after_hours_min_history",
    "after_hours_history_cap",
    "dormant_after_s",
    "alert_window_s",
    "search_probing_floor",
    "search_probing_window_s",
    "unexplained_tau_s",
    "unexplained_floor",
    "unexplained_min_floor",
    "unexplained_max_floor",
    "unexplained_rate_floor",
    "unexplained_max_tracked",
    "peer_min_members",
    "peer_min_samples",
)


def _check(config: DetectionConfig) -> None:
    for name in _POSITIVE_INTS:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1")
    _require(config.after_hours_min_span_s >= 0, "after_hours_min_span_s must be >= 0")
    _require(0.0 < config.baseline_alpha <= 1.0, "baseline_alpha must be in (0, 1]")
    _require(config.baseline_z_threshold > 0, "baseline_z_threshold must be positive")
    _require(config.baseline_min_std > 0, "baseline_min_std must be positive")
    _require(0.0 < config.enumeration_miss_ratio <= 1.0, "enumeration_miss_ratio in (0, 1]")
    _require(0.0 < config.after_hours_max_share < 1.0, "after_hours_max_share in (0, 1)")
    _require(
        config.max_tracked_patients >= config.bulk_spike_floor_1h,
        "max_tracked_patients must be at least bulk_spike_floor_1h",
    )
    window_floors = (
        config.denied_burst_floor_1m,
        config.enumeration_not_found_floor_5m,
        config.enumeration_fanout_floor_5m,
    )
    _require(
        config.max_window_entries >= max(window_floors),
        "max_window_entries must be at least every event-count floor",
    )
    _require(
        config.unexplained_min_floor <= config.unexplained_floor <= config.unexplained_max_floor,
        "unexplained floors must satisfy min <= floor <= max",
    )
    _require(set(config.severities) == set(KINDS), "severities must name exactly the known kinds")
    bad = {kind: sev for kind, sev in config.severities.items() if sev not in SEVERITIES}
    _require(not bad, f"unknown severities: {bad}")
    unknown = set(config.disabled_kinds) - set(KINDS)
    _require(not unknown, f"unknown kinds in disabled_kinds: {sorted(unknown)}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
