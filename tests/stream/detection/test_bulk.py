"""bulk_access_spike: exact floors, window edges, one updated alert, the own baseline."""

import json

from stream.detection import (
    Baseline,
    DetectionConfig,
    DetectionEngine,
    baseline_from_dict,
    baseline_to_dict,
    engine_state_from_dict,
    engine_state_to_dict,
    principal_baselines,
    update_baseline,
    with_baselines,
)
from stream.detection.baseline import hour_of_week
from tests.stream.detection.support import (
    HOUR,
    MIN,
    T0,
    S,
    event,
    first_alert_index,
    of_kind,
    pseudo,
    run,
    spaced,
)

KIND = "bulk_access_spike"


def test_fires_at_the_100th_distinct_patient_in_5_minutes_not_the_99th() -> None:
    events = spaced(100, 3 * S)  # 20 a minute: under the 1 min floor
    state, alerts = run(events[:99])
    assert of_kind(alerts, KIND) == []
    _, alerts = run(events[99:], state=state)
    [alert] = of_kind(alerts, KIND)
    assert alert.count("distinct_patients_5m") == 100
    assert alert.count("distinct_patients_1m") == 20
    assert alert.principal == "dr-alice" and alert.severity == "high"
    assert (alert.first_seen_us, alert.last_seen_us) == (T0, T0 + 297 * S)
    assert alert.window_start_us == T0 + 297 * S and alert.window_s == 3600
    assert alert.request_ids == tuple(e.request_id for e in events)
    assert alert.summary == "dr-alice: 100 distinct patients within 5m (floor 100)"


def test_5_minute_window_edge() -> None:
    before = spaced(99, 3 * S)  # T0 .. T0 + 294 s
    just_inside = event(99, T0 + 300 * S - 1)
    just_outside = event(99, T0 + 300 * S)  # (now - 300 s, now]: T0 no longer counts
    assert first_alert_index([*before, just_inside], KIND) == 99
    assert first_alert_index([*before, just_outside], KIND) is None


def test_1_minute_floor_and_edge() -> None:
    burst = spaced(40, S)
    assert first_alert_index(burst, KIND) == 39
    [alert] = of_kind(run(burst)[1], KIND)
    assert alert.count("distinct_patients_1m") == 40
    assert alert.summary.endswith("within 1m (floor 40)")
    late = [*spaced(39, S), event(39, T0 + MIN)]
    assert first_alert_index(late, KIND) is None


def test_1_hour_floor_catches_a_slow_scrape() -> None:
    slow = spaced(400, 8 * S)  # 37 per 5 min, 7 per minute
    assert first_alert_index(slow, KIND) == 399
    [alert] = of_kind(run(slow)[1], KIND)
    assert alert.count("distinct_patients_1h") == 400
    assert alert.count("distinct_patients_5m") == 38
    assert alert.first_seen_us == T0 and len(alert.request_ids) == 100
    assert alert.request_ids[-1] == slow[-1].request_id


def test_searches_count_distinct_patients_only() -> None:
    config = DetectionConfig.from_mapping({"bulk_spike_floor_1m": 1000})
    page = tuple(pseudo(f"p{i}") for i in range(50))
    first = event(0, T0, patient_hashes=page, count_returned=50)
    again = event(1, T0 + S, patient_hashes=page, count_returned=50)
    more = event(2, T0 + 2 * S, patient_hashes=tuple(pseudo(f"p{i}") for i in range(49, 99)))
    assert of_kind(run([first, again, more], config)[1], KIND) == []
    last = event(3, T0 + 3 * S, patient_hashes=(pseudo("p99"),))
    [alert] = of_kind(run([first, again, more, last], config)[1], KIND)
    assert alert.count("distinct_patients_5m") == 100
    # Each patient is attributed to the latest request that returned it.
    assert alert.request_ids == ("req-000001", "req-000002", "req-000003")


def test_only_data_handed_out_counts() -> None:
    denied = [event(i, T0 + i * S, decision="deny", status=403) for i in range(100)]
    empty = [event(i, T0 + i * S, count_returned=0) for i in range(100, 200)]
    partial = [event(i, T0 + 3 * i * S, decision="partial") for i in range(200, 300)]
    assert of_kind(run([*denied, *empty])[1], KIND) == []
    assert len(of_kind(run(partial)[1], KIND)) == 1


def test_500_events_over_the_floor_yield_one_updated_alert() -> None:
    events = spaced(600, 3 * S)  # over the 5 min floor from the 100th on, for 25 minutes
    _, alerts = run(events)
    [alert] = of_kind(alerts, KIND)
    assert alert.window_start_us == T0 + 297 * S  # the episode opened at the 100th
    assert alert.last_seen_us == events[-1].ts_us
    assert alert.count("distinct_patients_5m") == 100
    assert alert.count("distinct_patients_1h") == 600  # the 1 h floor joined the same alert
    assert alert.request_ids == tuple(e.request_id for e in events[500:])
    assert alert.summary.endswith("within 1h (floor 400)")
    # Fed one by one, every update carries the same id; the last equals the batch result.
    step_state, ids, last = DetectionEngine(), set(), None
    for item in events:
        step_state, out = run([item], state=step_state)
        for update in of_kind(out, KIND):
            ids.add(update.alert_id)
            last = update
    assert ids == {alert.alert_id} and last == alert


def test_a_new_episode_after_the_alert_window() -> None:
    events = spaced(1500, 3 * S)  # 75 minutes over the floor
    [first, second] = of_kind(run(events)[1], KIND)
    assert first.window_start_us == T0 + 297 * S
    assert second.window_start_us == first.window_start_us + HOUR
    assert first.last_seen_us < second.window_start_us


def test_suppression_is_per_principal() -> None:
    alice = spaced(100, 3 * S)
    bob = spaced(100, 3 * S, first=1000, sub="dr-bob")
    alerts = of_kind(run(sorted([*alice, *bob], key=lambda e: e.ts_us))[1], KIND)
    assert sorted(a.principal for a in alerts) == ["dr-alice", "dr-bob"]


def test_patients_tracked_are_capped_and_counts_saturate() -> None:
    config = DetectionConfig.from_mapping({"max_tracked_patients": 450})
    state, _ = run(spaced(1000, 3 * S), config)
    assert len(state.principals["dr-alice"][KIND].seen) == 450
    assert principal_baselines(state) == {}


# --- the principal's own baseline ----------------------------------------------------------


def tiny_baseline(samples: int, value: int = 2) -> Baseline:
    baseline = Baseline()
    for _ in range(samples):
        baseline = update_baseline(baseline, 3, value, 0.2)  # a bucket unrelated to Monday 9h
    return baseline


def seeded(baseline: Baseline) -> DetectionEngine:
    stored = json.loads(json.dumps(baseline_to_dict(baseline)))
    return with_baselines(DetectionEngine(), {"dr-alice": stored})


def first_index_from(state: DetectionEngine, events: list, kind: str = KIND) -> int | None:
    for index, item in enumerate(events):
        state, alerts = run([item], state=state)
        if of_kind(alerts, kind):
            return index
    return None


def test_baseline_fires_far_earlier_than_the_floor_for_a_tiny_baseline() -> None:
    events = spaced(100, 3 * S)
    # mean 2, spread max(0, sqrt 2, 1): z >= 4 from 8 patients; at least 20 are required.
    assert first_index_from(seeded(tiny_baseline(24)), events) == 19
    _, alerts = run(events[:20], state=seeded(tiny_baseline(24)))
    [alert] = of_kind(alerts, KIND)
    assert alert.count("distinct_patients_this_hour") == 20
    assert alert.count("baseline_mean") == 2 and alert.count("zscore") == 12
    assert alert.summary == "dr-alice: 20 distinct patients this hour, usually 2.0 (z 12.7)"
    assert alert.first_seen_us == T0 and len(alert.request_ids) == 20


def test_no_baseline_alert_during_warm_up() -> None:
    events = spaced(100, 3 * S)
    assert first_index_from(seeded(tiny_baseline(23)), events) == 99  # only the floor


def test_a_warm_hour_of_week_bucket_takes_precedence() -> None:
    baseline = tiny_baseline(24)  # overall: mean 2
    for _ in range(5):
        baseline = update_baseline(baseline, hour_of_week(T0), 30, 0.2)
    bucket = baseline.hours[hour_of_week(T0)]
    assert bucket.mean == 30 and bucket.var == 0
    # level = 30 + 4 * sqrt(30) = 51.9: the 52nd patient, not the 20th
    assert first_index_from(seeded(baseline), spaced(100, 3 * S)) == 51


def test_baseline_is_learned_per_active_hour_then_fires() -> None:
    history = []
    for hour in range(24):  # two patients in each of 24 consecutive hours
        history += spaced(2, MIN, start_us=T0 + hour * HOUR, first=10 * hour)
    state, alerts = run(history)
    assert of_kind(alerts, KIND) == []
    baseline = state.principals["dr-alice"][KIND].baseline
    assert baseline.overall.n == 23  # the 24th hour is folded when a later one begins
    spike = spaced(30, 3 * S, start_us=T0 + 24 * HOUR, first=1000)
    assert first_index_from(state, spike) == 19
    state, _ = run(spike[:1], state=state)
    learned = state.principals["dr-alice"][KIND].baseline
    assert learned.overall.n == 24 and learned.overall.mean == 2.0
    assert learned.hours[hour_of_week(T0 + 23 * HOUR)].n == 1


def test_baselines_survive_a_restart() -> None:
    history = []
    for hour in range(25):
        history += spaced(2, MIN, start_us=T0 + hour * HOUR, first=10 * hour)
    state, _ = run(history)
    stored = json.loads(json.dumps(principal_baselines(state)))  # what the store keeps
    assert set(stored) == {"dr-alice"} and stored["dr-alice"]["overall"]["n"] == 24
    assert baseline_from_dict(stored["dr-alice"]) == state.principals["dr-alice"][KIND].baseline
    restarted = with_baselines(DetectionEngine(), stored)
    spike = spaced(30, 3 * S, start_us=T0 + 26 * HOUR, first=1000)
    assert first_index_from(restarted, spike) == 19
    whole = engine_state_from_dict(json.loads(json.dumps(engine_state_to_dict(state))))
    assert whole == state
    assert first_index_from(whole, spike) == 19
