"""The principal activity computations (pure): the period, hourly buckets, the baseline."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.audit.activity import (
    BASELINE_DAYS,
    HOUR_US,
    MAX_HOURS,
    Period,
    activity_body,
    activity_period,
    baseline,
    ceil_hour,
    floor_hour,
    hourly_buckets,
    totals,
)
from api.audit.views import iso_from_us
from api.errors import InvalidRequest

H0 = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z, a whole hour
DAY = 24 * HOUR_US


def row(hour_us: int, patients: int, requests: int = 1, denials: int = 0,
        break_glass: int = 0) -> dict[str, Any]:  # fmt: skip
    return {"hour_us": hour_us, "distinct_patients": patients, "requests": requests,
            "denials": denials, "break_glass": break_glass}  # fmt: skip


@given(st.integers(min_value=0, max_value=2**55))
def test_hours_round_outwards(ts_us: int) -> None:
    assert floor_hour(ts_us) <= ts_us <= ceil_hour(ts_us)
    assert floor_hour(ts_us) % HOUR_US == 0 and ceil_hour(ts_us) % HOUR_US == 0
    assert ceil_hour(ts_us) - floor_hour(ts_us) in (0, HOUR_US)


def test_period_defaults_to_the_last_24_hours_including_the_current_one() -> None:
    now = H0 + 90 * 60 * 1_000_000  # 01:30
    period = activity_period(None, None, now)
    assert period == Period(H0 + 2 * HOUR_US - DAY, H0 + 2 * HOUR_US)
    assert period.hours == 24
    assert period.baseline_start_us == period.start_us - BASELINE_DAYS * DAY


def test_period_widens_to_whole_hours() -> None:
    period = activity_period(H0 + 1, H0 + HOUR_US + 1, now_us=0)
    assert period == Period(H0, H0 + 2 * HOUR_US)
    assert activity_period(H0 + 5, None, now_us=H0 + 10).hours == 1


@pytest.mark.parametrize(("since", "until"), [(H0, H0), (H0 + HOUR_US, H0),
                                              (H0, H0 + (MAX_HOURS + 1) * HOUR_US)])  # fmt: skip
def test_empty_reversed_or_too_long_periods_are_refused(since: int, until: int) -> None:
    with pytest.raises(InvalidRequest):
        activity_period(since, until, now_us=H0)


def test_buckets_cover_every_hour_with_zeros_between() -> None:
    period = Period(H0, H0 + 3 * HOUR_US)
    rows = [row(H0 - HOUR_US, 50), row(H0, 2, 3, 1), row(H0 + 2 * HOUR_US, 1, 1, 0, 1)]
    buckets = hourly_buckets(rows, period)
    assert [b["start"] for b in buckets] == [iso_from_us(H0 + n * HOUR_US) for n in range(3)]
    assert [b["distinct_patients"] for b in buckets] == [2, 0, 1]
    assert [b["requests"] for b in buckets] == [3, 0, 1]
    assert [b["denials"] for b in buckets] == [1, 0, 0]
    assert [b["break_glass"] for b in buckets] == [0, 0, 1]
    assert totals(buckets) == {"requests": 4, "denials": 1, "break_glass": 1,
                               "active_hours": 2, "peak_distinct_patients": 2}  # fmt: skip


def test_baseline_is_the_median_of_active_hours_in_the_7_days_before() -> None:
    period = Period(H0, H0 + HOUR_US)
    rows = [
        row(H0 - 8 * DAY, 1000),  # before the baseline window
        row(H0 - 7 * DAY, 6),  # its first hour
        row(H0 - 2 * DAY, 2),
        row(H0 - HOUR_US, 4),  # its last hour
        row(H0, 99),  # inside the period: not the baseline
    ]
    result = baseline(rows, period)
    assert result["value"] == 4 and result["mean"] == 4.0 and result["active_hours"] == 3
    assert result["statistic"] == "median" and result["metric"] == "distinct_patients_per_hour"
    assert result["window"] == {"start": iso_from_us(H0 - 7 * DAY), "end": iso_from_us(H0)}
    assert "7 days" in result["definition"]


def test_baseline_of_an_even_count_and_of_nothing() -> None:
    period = Period(H0, H0 + HOUR_US)
    assert baseline([row(H0 - DAY, 1), row(H0 - 2 * DAY, 4)], period)["value"] == 2.5
    empty = baseline([], period)
    assert empty["value"] is None and empty["mean"] is None and empty["active_hours"] == 0


@given(st.lists(st.tuples(st.integers(0, 24 * 9 - 1), st.integers(0, 500)), max_size=60,
                unique_by=lambda t: t[0]))  # fmt: skip
def test_baseline_lies_within_the_hours_it_summarises(hours: list[tuple[int, int]]) -> None:
    period = Period(H0, H0 + 2 * DAY)
    rows = [row(H0 - 7 * DAY + h * HOUR_US, n) for h, n in hours]
    result = baseline(rows, period)
    inside = [n for h, n in hours if h < 7 * 24]
    assert result["active_hours"] == len(inside)
    if inside:
        assert min(inside) <= result["value"] <= max(inside)
    assert len(hourly_buckets(rows, period)) == 48


def test_the_body_holds_counts_and_times_only() -> None:
    period = Period(H0, H0 + HOUR_US)
    use = {"ts_us": H0 + 5, "request_id": "req-1", "action": "read", "resource_type": "Patient",
           "decision": "allow", "status": 200}  # fmt: skip
    body = activity_body("dr-x", period, [row(H0, 3)], [use])
    assert body["principal"] == "dr-x" and body["bucket_seconds"] == 3600
    assert body["period"] == {"start": iso_from_us(H0), "end": iso_from_us(H0 + HOUR_US)}
    expected = {k: v for k, v in use.items() if k != "ts_us"} | {"time": iso_from_us(H0 + 5)}
    assert body["break_glass_uses"] == [expected]
    assert set(body) == {"principal", "period", "bucket_seconds", "buckets", "totals",
                         "baseline", "break_glass_uses"}  # fmt: skip
