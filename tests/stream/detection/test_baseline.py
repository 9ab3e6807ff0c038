"""The EWMA baseline: exact recurrence, warm-up, hour of week, JSON round trip."""

import json

import pytest

from evidence.core.record import hour_of_week as record_hour_of_week
from stream.detection import Baseline, baseline_from_dict, baseline_to_dict, update_baseline
from stream.detection.baseline import Stats, expectation, hour_of_week, zscore
from tests.stream.detection.support import DAY, HOUR, T0


def test_ewma_recurrence() -> None:
    baseline = update_baseline(Baseline(), 9, 2, 0.2)
    assert baseline.hours[9] == Stats(1, 2.0, 0.0) == baseline.overall
    baseline = update_baseline(baseline, 9, 4, 0.2)
    bucket = baseline.hours[9]
    assert bucket.n == 2 and bucket.mean == pytest.approx(2.4)
    assert bucket.var == pytest.approx(0.8 * (2 * 0.4))
    baseline = update_baseline(baseline, 10, 100, 0.2)
    assert baseline.hours[9].n == 2 and baseline.hours[10].n == 1 and baseline.overall.n == 3


def test_update_is_pure() -> None:
    before = update_baseline(Baseline(), 1, 5, 0.2)
    snapshot = baseline_to_dict(before)
    update_baseline(before, 1, 50, 0.2)
    assert baseline_to_dict(before) == snapshot


def test_hour_of_week_range_is_checked() -> None:
    with pytest.raises(ValueError):
        update_baseline(Baseline(), 168, 1, 0.2)


def test_hour_of_week_matches_the_evidence_record() -> None:
    assert hour_of_week(T0) == 9  # Monday 09h
    for offset in range(0, 14 * DAY, 7 * HOUR + 13):
        assert hour_of_week(T0 + offset) == record_hour_of_week(T0 + offset)


def test_expectation_prefers_a_warm_bucket_then_the_overall_baseline() -> None:
    baseline = Baseline()
    for value in (3, 3, 3, 3):
        baseline = update_baseline(baseline, 9, value, 0.2)
    assert expectation(baseline, 9, warmup=5, overall_warmup=5) is None
    baseline = update_baseline(baseline, 10, 50, 0.2)
    overall = expectation(baseline, 9, warmup=5, overall_warmup=5)
    assert overall is baseline.overall
    baseline = update_baseline(baseline, 9, 3, 0.2)
    assert expectation(baseline, 9, warmup=5, overall_warmup=99) == baseline.hours[9]


def test_zscore_spread_is_floored() -> None:
    assert zscore(Stats(10, 0.0, 0.0), 4, 1.0) == 4.0  # min_std
    assert zscore(Stats(10, 4.0, 0.0), 8, 1.0) == 2.0  # sqrt(mean)
    assert zscore(Stats(10, 4.0, 9.0), 13, 1.0) == 3.0  # std


def test_json_round_trip() -> None:
    baseline = Baseline()
    for how, value in [(0, 1), (167, 40), (0, 3)]:
        baseline = update_baseline(baseline, how, value, 0.2)
    data = json.loads(json.dumps(baseline_to_dict(baseline)))
    assert data["format"] == 1 and set(data["hours"]) == {"0", "167"}
    assert baseline_from_dict(data) == baseline


@pytest.mark.parametrize(
    "data",
    [{"format": 2, "hours": {}, "overall": {}}, {"format": 1, "hours": {"168": {}}}],
)
def test_bad_json_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        baseline_from_dict(data)
