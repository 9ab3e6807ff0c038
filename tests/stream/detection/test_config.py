"""DetectionConfig defaults and validated overrides."""

import json

import pytest

from stream.detection import KINDS, DetectionConfig


def test_contract_defaults() -> None:
    config = DetectionConfig()
    assert config.bulk_spike_floor_5m == 100
    assert (config.bulk_spike_floor_1m, config.bulk_spike_floor_1h) == (40, 400)
    assert config.denied_burst_floor_1m == 20
    assert config.baseline_z_threshold == 4.0 and config.baseline_alpha == 0.2
    assert config.enumeration_not_found_floor_5m == 30
    assert config.enumeration_fanout_floor_5m == 50 and config.enumeration_miss_ratio == 0.5
    assert config.after_hours_min_history == 200 and config.after_hours_max_share == 0.02
    assert config.after_hours_min_span_s == 7 * 86_400
    assert config.dormant_after_s == 30 * 86_400
    assert set(config.severities) == set(KINDS)
    assert all(config.enabled(kind) for kind in KINDS)


def test_overrides_by_name() -> None:
    config = DetectionConfig.from_mapping(
        {
            "bulk_spike_floor_5m": 50,
            "baseline_alpha": 1,  # an int is a fine number
            "enumeration_actions": ["read"],
            "severities": {"export": "high"},
            "disabled_kinds": ["after_hours"],
        }
    )
    assert config.bulk_spike_floor_5m == 50 and config.baseline_alpha == 1.0
    assert config.enumeration_actions == ("read",)
    assert config.severity("export") == "high" and config.severity("vip_access") == "high"
    assert config.severity("denied_burst") == "medium"
    assert not config.enabled("after_hours")


def test_round_trip_through_a_mapping() -> None:
    config = DetectionConfig.from_mapping({"denied_burst_floor_1m": 7})
    data = json.loads(json.dumps(config.to_mapping()))
    assert DetectionConfig.from_mapping(data) == config


@pytest.mark.parametrize(
    "overrides",
    [
        {"bulk_spike_floor": 100},  # unknown name
        {"bulk_spike_floor_5m": "100"},
        {"bulk_spike_floor_5m": 100.0},
        {"bulk_spike_floor_5m": True},
        {"baseline_alpha": "0.2"},
        {"enumeration_actions": "read"},
        {"enumeration_actions": [1]},
        {"severities": ["high"]},
        {"severities": {"export": "urgent"}},
        {"severities": {"no_such_kind": "low"}},
        {"disabled_kinds": ["no_such_kind"]},
        {"denied_burst_floor_1m": 0},
        {"baseline_alpha": 0},
        {"baseline_alpha": 1.5},
        {"enumeration_miss_ratio": 0},
        {"after_hours_max_share": 1},
        {"after_hours_min_span_s": -1},
        {"max_tracked_patients": 399},  # below the 1 h floor: could never fire
        {"max_window_entries": 19},  # below the denied floor
    ],
)
def test_invalid_overrides_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DetectionConfig.from_mapping(overrides)
