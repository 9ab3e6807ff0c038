"""after_hours (learned usual hours) and dormant_principal."""

from stream.detection import DetectionConfig
from tests.stream.detection.support import DAY, HOUR, MIN, T0, S, denial, event, of_kind, run

AFTER = "after_hours"
DORMANT = "dormant_principal"


def office_history(count: int, extra_at_3h: int = 0) -> list:
    """`count` events between 09h and 16h on consecutive days, plus some at 03h before."""
    events = [event(i, T0 + (i % 8) * HOUR + (i // 8) * DAY) for i in range(count)]
    late = [event(10_000 + i, T0 - 6 * HOUR + i * S) for i in range(extra_at_3h)]  # 03h
    return late + events


def night_access(n: int = 99_999) -> object:
    return event(n, T0 + 40 * DAY - 6 * HOUR)  # 03h UTC, after all the history


def test_fires_outside_learned_hours_after_enough_history() -> None:
    state, alerts = run(office_history(200))
    assert of_kind(alerts, AFTER) == []
    _, alerts = run([night_access()], state=state)  # type: ignore[list-item]
    [alert] = of_kind(alerts, AFTER)
    assert dict(alert.counts) == {"events": 1, "history_events": 200}
    assert alert.severity == "low"
    assert alert.summary == (
        "dr-alice: access at 03h UTC, an hour holding 0.0% of its 200 past events"
    )


def test_not_before_enough_history() -> None:
    state, _ = run(office_history(199))
    assert of_kind(run([night_access()], state=state)[1], AFTER) == []  # type: ignore[list-item]


def test_not_before_the_history_spans_a_week() -> None:
    busy_morning = [event(i, T0 + i * 10 * S) for i in range(300)]  # 09h - 09h50
    first_evening = event(999, T0 + 12 * HOUR)
    assert of_kind(run([*busy_morning, first_evening])[1], AFTER) == []
    week_later = event(999, T0 + 7 * DAY - 6 * HOUR)  # 03h, 6 days 18 h after the first
    assert of_kind(run([*busy_morning, week_later])[1], AFTER) == []
    assert len(of_kind(run([*busy_morning, event(999, T0 + 7 * DAY + 18 * HOUR)])[1], AFTER)) == 1
    no_span = DetectionConfig.from_mapping({"after_hours_min_span_s": 0})
    assert len(of_kind(run([*busy_morning, first_evening], no_span)[1], AFTER)) == 1


def test_an_hour_with_two_percent_of_history_is_usual() -> None:
    state, _ = run(office_history(196, extra_at_3h=4))  # 4 / 200 = 2 %
    assert of_kind(run([night_access()], state=state)[1], AFTER) == []  # type: ignore[list-item]
    state, _ = run(office_history(197, extra_at_3h=3))  # 1.5 %
    assert len(of_kind(run([night_access()], state=state)[1], AFTER)) == 1  # type: ignore[list-item]


def test_usual_hours_are_not_flagged_and_denials_only_teach() -> None:
    state, _ = run(office_history(300))
    day = event(50_000, T0 + 40 * DAY + 2 * HOUR)
    assert of_kind(run([day], state=state)[1], AFTER) == []
    refused = denial(50_001, T0 + 40 * DAY - 6 * HOUR)
    state2, alerts = run([refused], state=state)
    assert of_kind(alerts, AFTER) == []
    assert state2.principals["dr-alice"][AFTER].histogram[3] == 1


def test_night_session_is_one_alert_and_history_is_bounded() -> None:
    state, _ = run(office_history(300))
    night = [event(60_000 + i, T0 + 40 * DAY - 6 * HOUR + i * MIN) for i in range(5)]
    [alert] = of_kind(run(night, state=state)[1], AFTER)
    assert alert.count("events") == 5
    config = DetectionConfig.from_mapping({"after_hours_history_cap": 250})
    state, _ = run(office_history(300), config)
    assert sum(state.principals["dr-alice"][AFTER].histogram) <= 250


def test_dormant_principal_after_30_days_of_silence() -> None:
    first = event(0, T0)
    just_before = event(1, T0 + 30 * DAY - 1)
    assert of_kind(run([first, just_before])[1], DORMANT) == []
    back = event(1, T0 + 30 * DAY)
    [alert] = of_kind(run([first, back])[1], DORMANT)
    assert alert.count("silent_days") == 30 and alert.request_ids == ("req-000001",)
    assert alert.summary == "dr-alice: first activity after 30 days of silence"
    assert alert.severity == "medium"


def test_a_new_principal_is_not_dormant_and_anonymous_has_no_habits() -> None:
    assert of_kind(run([event(0, T0)])[1], DORMANT) == []
    anon = [event(0, T0, sub="", client_id=""), event(1, T0 + 90 * DAY, sub="", client_id="")]
    state, alerts = run(anon)
    assert of_kind(alerts, DORMANT) == [] and of_kind(alerts, AFTER) == []
    assert DORMANT not in state.principals["anonymous"] or (
        state.principals["anonymous"][DORMANT].last_seen_us == -1
    )


def test_activity_resets_the_silence() -> None:
    events = [event(i, T0 + i * 20 * DAY) for i in range(4)]  # every 20 days
    assert of_kind(run(events)[1], DORMANT) == []
