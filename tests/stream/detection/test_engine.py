"""The engine: order, one alert per id per batch, purity, persistence, compaction."""

import json

import pytest

from stream.detection import (
    DEFAULT_RULES,
    KINDS,
    DetectionConfig,
    DetectionEngine,
    compact,
    detect,
    engine_state_from_dict,
    engine_state_to_dict,
    principal_baselines,
    with_last_seen,
)
from stream.detection.rules import rules_by_kind
from tests.stream.detection.support import (
    DAY,
    HOUR,
    MIN,
    T0,
    S,
    denial,
    event,
    of_kind,
    run,
    spaced,
)


def busy_day() -> list:
    """Bulk reads, a denied burst and a break-glass access, interleaved by time."""
    reads = spaced(150, 2 * S)
    denials = [denial(1000 + i, T0 + i * S + 1, sub="scanner") for i in range(30)]
    glass = [event(2000, T0 + 7 * S, sub="dr-bob", reasons=("break_glass",))]
    return sorted([*reads, *denials, *glass], key=lambda e: e.ts_us)


def test_rules_cover_every_kind_in_a_fixed_order() -> None:
    assert tuple(rule.kind for rule in DEFAULT_RULES) == KINDS
    versions = {rule.kind: rule.version for rule in DEFAULT_RULES}
    assert versions.pop("same_surname") == "2"  # 2: a treating relationship is exempt
    assert set(versions.values()) == {"1"}
    assert set(rules_by_kind()) == set(KINDS)


def test_alerts_once_per_id_in_order_of_appearance() -> None:
    _, alerts = run(busy_day())
    assert [a.kind for a in alerts] == ["break_glass", "denied_burst", "bulk_access_spike"]
    assert len({a.alert_id for a in alerts}) == len(alerts)
    bulk = of_kind(alerts, "bulk_access_spike")[0]
    assert bulk.count("distinct_patients_1m") == 30 and bulk.count("distinct_patients_5m") == 150


def test_detect_is_pure_and_deterministic() -> None:
    state, _ = run(busy_day()[:50])
    snapshot = json.dumps(engine_state_to_dict(state))
    first = detect(state, busy_day()[50:], DetectionConfig())
    second = detect(state, busy_day()[50:], DetectionConfig())
    assert json.dumps(engine_state_to_dict(state)) == snapshot  # the input is untouched
    assert first == second


def test_batches_can_be_split_anywhere() -> None:
    events = busy_day()
    whole_state, whole = run(events)
    state, latest = DetectionEngine(), {}
    for start in range(0, len(events), 7):
        state, alerts = run(events[start : start + 7], state=state)
        latest.update({a.alert_id: a for a in alerts})
    assert state == whole_state
    assert latest == {a.alert_id: a for a in whole}


def test_state_survives_a_restart_mid_stream() -> None:
    events = busy_day()
    state, _ = run(events[:100])
    restored = engine_state_from_dict(json.loads(json.dumps(engine_state_to_dict(state))))
    assert restored == state
    assert run(events[100:], state=restored) == run(events[100:], state=state)


def test_restored_state_refuses_unknown_formats_and_drops_retired_rules() -> None:
    data = engine_state_to_dict(run(busy_day())[0])
    with pytest.raises(ValueError):
        engine_state_from_dict({**data, "format": 99})
    data["principals"]["dr-bob"]["retired_rule"] = {"x": 1}
    assert "retired_rule" not in engine_state_from_dict(data).principals["dr-bob"]


def test_disabled_kinds_do_not_run() -> None:
    config = DetectionConfig.from_mapping({"disabled_kinds": ["denied_burst", "break_glass"]})
    state, alerts = detect(DetectionEngine(), busy_day(), config)
    assert [a.kind for a in alerts] == ["bulk_access_spike"]
    assert "denied_burst" not in state.principals["scanner"]


def test_custom_rule_sets() -> None:
    only_bulk = (rules_by_kind()["bulk_access_spike"],)
    _, alerts = detect(DetectionEngine(), busy_day(), DetectionConfig(), only_bulk)
    assert [a.kind for a in alerts] == ["bulk_access_spike"]


def test_compact_drops_stale_windows_but_keeps_what_is_learned() -> None:
    state, _ = run(busy_day())
    assert compact(state, T0 + 10 * MIN) != state  # the 1 min and 5 min windows slid
    later = compact(state, T0 + 2 * DAY)
    assert set(later.principals) == {"dr-alice", "dr-bob", "scanner"}
    alice = later.principals["dr-alice"]
    assert set(alice) == {
        "bulk_access_spike", "after_hours", "dormant_principal", "unexplained_access"
    }  # fmt: skip
    assert alice["unexplained_access"].own.n == 1  # an active hour learned (0 unexplained)
    assert alice["bulk_access_spike"].seen == {}
    assert alice["bulk_access_spike"].baseline.overall.n == 1  # the pending hour was folded
    assert alice["bulk_access_spike"].open_alert is None
    assert later.principals["scanner"]["dormant_principal"].last_seen_us > 0
    assert principal_baselines(later)["dr-alice"]["overall"]["n"] == 1
    assert compact(later, T0 + 3 * DAY) == later


def test_compact_keeps_an_open_episode() -> None:
    state, _ = run(busy_day())
    kept = compact(state, T0 + 30 * MIN)
    assert kept.principals["dr-bob"]["break_glass"].open_alert is not None
    _, alerts = run(
        [event(3000, T0 + 40 * MIN, sub="dr-bob", reasons=("break_glass",))], state=kept
    )
    [alert] = of_kind(alerts, "break_glass")
    assert alert.window_start_us == T0 + 7 * S and alert.count("events") == 2


def test_with_last_seen_seeds_dormancy() -> None:
    seeded = with_last_seen(DetectionEngine(), {"dr-alice": T0 - 31 * DAY})
    [alert] = of_kind(run([event(0, T0)], state=seeded)[1], "dormant_principal")
    assert alert.count("silent_days") == 31
    kept = with_last_seen(seeded, {"dr-alice": T0 - 40 * DAY})  # a later time already known wins
    assert kept.principals["dr-alice"]["dormant_principal"].last_seen_us == T0 - 31 * DAY


def test_late_events_count_at_the_principals_latest_time() -> None:
    events = spaced(99, 3 * S)
    late = events[0]._replace(
        event_id="late",
        request_id="req-late",
        ts_us=T0 - HOUR,
        patient_hashes=("late-patient",),
    )
    [alert] = of_kind(run([*events, late])[1], "bulk_access_spike")
    assert alert.count("distinct_patients_5m") == 100
    assert alert.last_seen_us == events[-1].ts_us and alert.request_ids[-1] == "req-late"


def test_suppressions_mute_a_kind_and_principal_until_their_end() -> None:
    muted = {("denied_burst", "scanner"): T0 + 30 * S}  # after all 30 of its denials
    state, alerts = detect(DetectionEngine(), busy_day(), DetectionConfig(), suppressed=muted)
    assert [a.kind for a in alerts] == ["break_glass", "bulk_access_spike"]  # scanner muted
    later = [denial(1100 + i, T0 + 30 * S + i, sub="scanner") for i in range(2)]
    _, alerts = detect(state, later, DetectionConfig(), suppressed=muted)
    [alert] = alerts  # the episode resumes with what was learned meanwhile
    assert alert.count("denials_1m") == 32 and alert.window_start_us == T0 + 19 * S + 1
    assert detect(DetectionEngine(), busy_day(), suppressed={})[1] == run(busy_day())[1]
