"""A principal's own baseline of distinct patients per active hour (pure, JSON-persistable).

Per hour-of-week bucket (0..167, Monday 00h = 0, UTC) and over all hours, an exponentially
weighted mean and variance (West's EWMA recurrence). Only hours in which the principal
returned data are observed, so the baseline describes its *active* hours.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

HOUR_US = 3_600_000_000
HOURS_PER_WEEK = 168
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
BASELINE_FORMAT = 1


def hour_of_week(ts_us: int) -> int:
    hours = ts_us // HOUR_US
    return ((hours // 24 + _EPOCH_WEEKDAY) % 7) * 24 + hours % 24


@dataclass(frozen=True, slots=True)
class Stats:
    n: int = 0
    mean: float = 0.0
    var: float = 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.var)


@dataclass(frozen=True, slots=True)
class Baseline:
    hours: Mapping[int, Stats] = field(default_factory=dict)  # observed buckets only
    overall: Stats = Stats()


def ewma(stats: Stats, value: float, alpha: float) -> Stats:
    if stats.n == 0:
        return Stats(1, float(value), 0.0)
    diff = value - stats.mean
    step = alpha * diff
    return Stats(stats.n + 1, stats.mean + step, (1.0 - alpha) * (stats.var + diff * step))


def update_baseline(baseline: Baseline, hour_of_week: int, value: float, alpha: float) -> Baseline:
    """A new baseline with one more observed hour (`value` distinct patients)."""
    if not 0 <= hour_of_week < HOURS_PER_WEEK:
        raise ValueError("hour_of_week must be in 0..167")
    bucket = ewma(baseline.hours.get(hour_of_week, Stats()), value, alpha)
    return replace(
        baseline,
        hours={**baseline.hours, hour_of_week: bucket},
        overall=ewma(baseline.overall, value, alpha),
    )


def expectation(
    baseline: Baseline, hour_of_week: int, warmup: int, overall_warmup: int
) -> Stats | None:
    """The warmed-up statistics to judge this hour by, or None during warm-up."""
    bucket = baseline.hours.get(hour_of_week)
    if bucket is not None and bucket.n >= warmup:
        return bucket
    return baseline.overall if baseline.overall.n >= overall_warmup else None


def spread(stats: Stats, min_std: float) -> float:
    """The standard deviation, floored: counts are noisy (Poisson: sqrt(mean)), and a
    principal always seeing the same number of patients must not make z infinite."""
    return max(stats.std, math.sqrt(max(stats.mean, 0.0)), min_std)


def zscore(stats: Stats, value: float, min_std: float) -> float:
    """Deviation from the mean in floored standard deviations."""
    return (value - stats.mean) / spread(stats, min_std)


def baseline_to_dict(baseline: Baseline) -> dict[str, Any]:
    """Plain JSON: {"format": 1, "overall": {n, mean, var}, "hours": {"<how>": {...}}}."""
    return {
        "format": BASELINE_FORMAT,
        "overall": _stats_to_dict(baseline.overall),
        "hours": {str(how): _stats_to_dict(s) for how, s in sorted(baseline.hours.items())},
    }


def baseline_from_dict(data: Mapping[str, Any]) -> Baseline:
    if data.get("format") != BASELINE_FORMAT:
        raise ValueError(f"unsupported baseline format {data.get('format')!r}")
    hours = {int(how): _stats_from_dict(s) for how, s in data.get("hours", {}).items()}
    if any(not 0 <= how < HOURS_PER_WEEK for how in hours):
        raise ValueError("baseline hour_of_week out of range")
    return Baseline(hours=hours, overall=_stats_from_dict(data.get("overall", {})))


def _stats_to_dict(stats: Stats) -> dict[str, Any]:
    return {"n": stats.n, "mean": stats.mean, "var": stats.var}


def _stats_from_dict(data: Mapping[str, Any]) -> Stats:
    return Stats(int(data.get("n", 0)), float(data.get("mean", 0.0)), float(data.get("var", 0.0)))
