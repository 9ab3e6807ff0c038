"""denied_burst and enumeration: exact floors and sliding-window edges."""

from stream.detection import DetectionConfig
from tests.stream.detection.support import (
    HOUR,
    MIN,
    T0,
    S,
    denial,
    event,
    first_alert_index,
    miss,
    of_kind,
    pseudo,
    run,
)

DENIED = "denied_burst"
ENUM = "enumeration"


def test_denied_burst_fires_at_the_20th_denial_in_a_minute() -> None:
    denials = [denial(i, T0 + 2 * i * S) for i in range(20)]
    state, alerts = run(denials[:19])
    assert of_kind(alerts, DENIED) == []
    _, alerts = run(denials[19:], state=state)
    [alert] = of_kind(alerts, DENIED)
    assert alert.count("denials_1m") == 20 and alert.count("status_403") == 20
    assert alert.request_ids == tuple(d.request_id for d in denials)
    assert (alert.first_seen_us, alert.last_seen_us) == (T0, T0 + 38 * S)
    assert alert.severity == "medium"
    assert alert.summary == "dr-alice: 20 denied requests within 1 min (floor 20)"


def test_denied_burst_window_edge() -> None:
    first = [denial(i, T0 + i * S) for i in range(19)]  # T0 .. T0 + 18 s
    assert first_alert_index([*first, denial(19, T0 + MIN - 1)], DENIED) == 19
    assert first_alert_index([*first, denial(19, T0 + MIN)], DENIED) is None


def test_every_kind_of_denial_counts_and_allowed_requests_do_not() -> None:
    mixed = []
    for i in range(20):
        status = (401, 403, 404)[i % 3]
        mixed.append(denial(i, T0 + i * S, status=status, sub="", client_id=""))
        mixed.append(event(100 + i, T0 + i * S + 1, sub="", client_id=""))
    [alert] = of_kind(run(mixed)[1], DENIED)
    assert alert.principal == "anonymous"
    assert dict(alert.counts) == {
        "denials_1m": 20,
        "status_401": 7,
        "status_403": 7,
        "status_404": 6,
    }


def test_a_sustained_burst_is_one_alert_per_window() -> None:
    denials = [denial(i, T0 + i * S // 2) for i in range(600)]  # 5 minutes at 2/s
    [alert] = of_kind(run(denials)[1], DENIED)
    assert alert.count("denials_1m") == 120
    assert alert.request_ids == tuple(d.request_id for d in denials[500:])
    later = [denial(1000 + i, T0 + HOUR + i * S) for i in range(20)]
    assert len(of_kind(run([*denials, *later])[1], DENIED)) == 2


def test_denials_per_principal() -> None:
    alice = [denial(i, T0 + i * S) for i in range(10)]
    bob = [denial(100 + i, T0 + i * S, sub="dr-bob") for i in range(10)]
    assert of_kind(run([*alice, *bob])[1], DENIED) == []


def test_enumeration_fires_at_the_30th_miss_in_5_minutes() -> None:
    misses = [miss(i, T0 + 5 * i * S) for i in range(30)]  # 12 a minute: no denied burst
    state, alerts = run(misses[:29])
    assert alerts == []
    _, alerts = run(misses[29:], state=state)
    [alert] = alerts
    assert alert.kind == ENUM and alert.severity == "high"
    assert dict(alert.counts) == {"probes_5m": 30, "not_found_5m": 30, "distinct_targets_5m": 30}
    assert alert.request_ids == tuple(m.request_id for m in misses)
    assert alert.summary == (
        "dr-alice: 30 of 30 id lookups found nothing, 30 distinct targets within 5 min"
    )


def test_enumeration_window_edge() -> None:
    misses = [miss(i, T0 + i * S) for i in range(29)]
    spread = [miss(i, T0 + 10 * i * S) for i in range(29)]  # T0 .. T0 + 280 s
    assert first_alert_index([*spread, miss(29, T0 + 300 * S - 1)], ENUM) == 29
    assert first_alert_index([*spread, miss(29, T0 + 300 * S)], ENUM) is None
    assert first_alert_index([*misses, miss(29, T0 + 29 * S)], ENUM) == 29


def test_hidden_reads_count_as_misses() -> None:
    hidden = [
        denial(
            i,
            T0 + 5 * i * S,
            status=404,
            reasons=("label.withheld",),
            resource_hashes=(pseudo(f"r{i}"),),
        )
        for i in range(30)
    ]
    [alert] = of_kind(run(hidden)[1], ENUM)
    assert alert.count("not_found_5m") == 30


def fan_out(misses: int, hits: int) -> list:
    """`misses` 404s then `hits` distinct resources found, 5 s apart."""
    events = [miss(i, T0 + 5 * i * S) for i in range(misses)]
    return events + [event(100 + i, T0 + 5 * (misses + i) * S) for i in range(hits)]


def test_fan_out_fires_at_50_distinct_targets_when_half_missed() -> None:
    assert first_alert_index(fan_out(25, 25), ENUM) == 49
    [alert] = of_kind(run(fan_out(25, 25))[1], ENUM)
    assert dict(alert.counts) == {"probes_5m": 50, "not_found_5m": 25, "distinct_targets_5m": 50}
    assert first_alert_index(fan_out(25, 24), ENUM) is None
    assert first_alert_index(fan_out(24, 26), ENUM) is None  # 48% missed


def test_repeated_reads_of_one_resource_are_no_fan_out() -> None:
    same = [event(100 + i, T0 + 5 * i * S, resource_hashes=(pseudo("r"),)) for i in range(30)]
    events = [miss(i, T0 + 5 * (30 + i) * S) for i in range(25)]
    assert of_kind(run([*same, *events])[1], ENUM) == []


def test_only_id_targeted_actions_are_probes() -> None:
    searches = [miss(i, T0 + 5 * i * S, action="search") for i in range(40)]
    assert of_kind(run(searches)[1], ENUM) == []
    config = DetectionConfig.from_mapping({"enumeration_actions": ["read", "search"]})
    assert len(of_kind(run(searches, config)[1], ENUM)) == 1


def test_window_entries_are_capped() -> None:
    config = DetectionConfig.from_mapping({"max_window_entries": 50})
    state, _ = run([denial(i, T0 + i * 1000) for i in range(200)], config)
    assert len(state.principals["dr-alice"][DENIED].entries) == 50
