"""Alert identity, merge (dedup/suppression) and the JSON round trip."""

import hashlib
import json
from dataclasses import replace

import pytest

from stream.detection import Alert, alert_from_dict, alert_key, alert_to_dict, merge
from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    bound_request_ids,
    episode_count,
    new_alert,
    raise_alert,
)
from tests.stream.detection.support import HOUR, T0, S


def make(ts: int = T0, **kw: object) -> Alert:
    values: dict[str, object] = {
        "kind": "denied_burst",
        "severity": "medium",
        "principal": "dr-alice",
        "ts_us": ts,
        "window_s": 3600,
        "counts": [("denials_1m", 20)],
        "rule_version": "1",
        "request_ids": ["r1", "r2"],
        "summary": "dr-alice: 20 denied requests",
    }
    values.update(kw)
    return new_alert(**values)  # type: ignore[arg-type]


def test_alert_id_is_a_truncated_sha256_of_kind_principal_window() -> None:
    expected = hashlib.sha256(f"denied_burst|dr-alice|{T0}".encode()).hexdigest()[:32]
    assert alert_key("denied_burst", "dr-alice", T0) == expected
    alert = make()
    assert alert.alert_id == expected and len(alert.alert_id) == 32
    assert alert.window_start_us == alert.first_seen_us == alert.last_seen_us == T0


def test_first_seen_may_precede_the_trigger() -> None:
    assert make(first_seen_us=T0 - 5 * S).first_seen_us == T0 - 5 * S
    assert make(first_seen_us=T0 + 5 * S).first_seen_us == T0


def test_merge_widens_times_keeps_max_counts_unites_ids() -> None:
    first = make(counts=[("denials_1m", 25), ("status_403", 25)], request_ids=["a", "b"])
    later = replace(
        make(counts=[("denials_1m", 21), ("status_401", 3)], request_ids=["b", "c"]),
        first_seen_us=T0 - S,
        last_seen_us=T0 + 9 * S,
        severity="high",
        summary="newer",
        rule_version="2",
    )
    merged = merge(first, later)
    assert merged.counts == (("denials_1m", 25), ("status_403", 25), ("status_401", 3))
    assert merged.request_ids == ("a", "b", "c")
    assert (merged.first_seen_us, merged.last_seen_us) == (T0 - S, T0 + 9 * S)
    assert (merged.severity, merged.summary, merged.rule_version) == ("high", "newer", "2")
    assert merge(merged, first).severity == "high"  # severity never drops


def test_merge_refuses_different_alerts() -> None:
    with pytest.raises(ValueError):
        merge(make(), make(ts=T0 + 1))


def test_merge_is_idempotent() -> None:
    alert = make()
    assert merge(alert, alert) == alert


def test_request_ids_bounded_to_most_recent_unique() -> None:
    ids = [f"r{i}" for i in range(150)] + ["r0", "", "r149"]
    bounded = bound_request_ids(ids)
    assert len(bounded) == MAX_REQUEST_IDS
    assert bounded == tuple(f"r{i}" for i in range(50, 150))
    big = merge(make(request_ids=ids[:80]), make(request_ids=ids[60:150]))
    assert big.request_ids == tuple(f"r{i}" for i in range(50, 150))


def test_raise_alert_updates_the_open_episode_and_starts_a_new_one_after() -> None:
    opened = make(counts=[("events", 1)])
    inside = raise_alert(opened, make(ts=T0 + HOUR - 1, counts=[("events", 2)]))
    assert inside.alert_id == opened.alert_id and inside.window_start_us == T0
    assert inside.last_seen_us == T0 + HOUR - 1 and inside.count("events") == 2
    after = raise_alert(inside, make(ts=T0 + HOUR))
    assert after.alert_id == alert_key("denied_burst", "dr-alice", T0 + HOUR)
    other_kind = raise_alert(opened, make(ts=T0 + S, kind="enumeration"))
    assert other_kind.alert_id != opened.alert_id
    assert episode_count(inside, T0 + 10 * S, "events") == 2
    assert episode_count(inside, T0 + HOUR, "events") == 0
    assert episode_count(None, T0, "events") == 0


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError):
        make(severity="urgent")


def test_dict_round_trip_is_json_ready() -> None:
    alert = make(counts=[("b", 2), ("a", 1)])
    data = json.loads(json.dumps(alert_to_dict(alert)))
    assert data["counts"] == {"b": 2, "a": 1} and data["request_ids"] == ["r1", "r2"]
    assert alert_from_dict(data) == alert
    assert list(data) == [
        "alert_id",
        "kind",
        "severity",
        "principal",
        "first_seen_us",
        "last_seen_us",
        "window_start_us",
        "window_s",
        "counts",
        "rule_version",
        "request_ids",
        "summary",
        "explanation",
    ]
    assert data["explanation"]["rule"] == alert.kind
    before_explanations = {k: v for k, v in data.items() if k != "explanation"}
    assert alert_from_dict(before_explanations).explanation == ()  # stored before it existed


def test_from_dict_refuses_missing_or_extra_fields_and_bad_severity() -> None:
    data = alert_to_dict(make())
    with pytest.raises(ValueError):
        alert_from_dict({**data, "extra": 1})
    with pytest.raises(ValueError):
        alert_from_dict({k: v for k, v in data.items() if k != "summary"})
    with pytest.raises(ValueError):
        alert_from_dict({**data, "severity": "urgent"})
