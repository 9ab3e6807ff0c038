"""A principal's activity per clock hour against its own baseline (pure).

The store hands back one aggregate row per active hour (the evidence-query port's
`hourly_activity`); this module picks the period, fills the silent hours with zeros and
computes the baseline: the median of the principal's distinct patients per active hour over
the 7 days before the period. Counts only: no patient identifier ever appears in the result.
"""

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.audit.views import iso_from_us
from api.errors import InvalidRequest

HOUR_US = 3_600_000_000
BASELINE_DAYS = 7
DEFAULT_HOURS = 24
MAX_HOURS = 31 * 24
COUNTS = ("distinct_patients", "requests", "denials", "break_glass")
BASELINE_DEFINITION = (
    "Median of the principal's distinct patients per clock hour (UTC) over the hours with at "
    "least one request in the 7 days before the period starts; null when there were none. "
    "Mean is over the same hours."
)
Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole clock hours [start_us, end_us)."""

    start_us: int
    end_us: int

    @property
    def hours(self) -> int:
        return (self.end_us - self.start_us) // HOUR_US

    @property
    def baseline_start_us(self) -> int:
        return self.start_us - BASELINE_DAYS * 24 * HOUR_US


def floor_hour(ts_us: int) -> int:
    return ts_us - ts_us % HOUR_US


def ceil_hour(ts_us: int) -> int:
    return -floor_hour(-ts_us)


def activity_period(since_us: int | None, until_us: int | None, now_us: int) -> Period:
    """The hours asked for: `until` defaults to now, `since` to 24 hours before `until`;
    both widen to whole hours. At most 31 days."""
    end = ceil_hour(until_us if until_us is not None else now_us)
    start = floor_hour(since_us if since_us is not None else end - DEFAULT_HOURS * HOUR_US)
    if start >= end:
        raise InvalidRequest("since must be before until.")
    if end - start > MAX_HOURS * HOUR_US:
        raise InvalidRequest(f"The period may cover at most {MAX_HOURS} hours (31 days).")
    return Period(start, end)


def _counts(row: Row | None) -> dict[str, int]:
    return {name: int(row[name]) if row else 0 for name in COUNTS}


def hourly_buckets(rows: Iterable[Row], period: Period) -> list[dict[str, Any]]:
    """Every hour of the period, oldest first, silent hours as zeros; rows outside the
    period (the baseline's) are ignored."""
    by_hour = {int(r["hour_us"]): r for r in rows}
    hours = range(period.start_us, period.end_us, HOUR_US)
    return [{"start": iso_from_us(h), **_counts(by_hour.get(h))} for h in hours]


def baseline(rows: Iterable[Row], period: Period) -> dict[str, Any]:
    """The distinct-patients baseline from the active hours before the period."""
    window = range(period.baseline_start_us, period.start_us)
    values = [int(r["distinct_patients"]) for r in rows if int(r["hour_us"]) in window]
    return {
        "metric": "distinct_patients_per_hour",
        "statistic": "median",
        "value": statistics.median(values) if values else None,
        "mean": round(statistics.fmean(values), 2) if values else None,
        "active_hours": len(values),
        "window": {"start": iso_from_us(window.start), "end": iso_from_us(window.stop)},
        "definition": BASELINE_DEFINITION,
    }


def totals(buckets: list[dict[str, Any]]) -> dict[str, int]:
    """Sums over the period (distinct patients do not add up: their busiest hour instead)."""
    sums = {name: sum(b[name] for b in buckets) for name in ("requests", "denials", "break_glass")}
    busiest = max((b["distinct_patients"] for b in buckets), default=0)
    active = sum(1 for b in buckets if b["requests"])
    return {**sums, "active_hours": active, "peak_distinct_patients": busiest}


def break_glass_view(row: Row) -> dict[str, Any]:
    return {
        "time": iso_from_us(int(row["ts_us"])),
        "request_id": row["request_id"],
        "action": row["action"],
        "resource_type": row["resource_type"],
        "decision": row["decision"],
        "status": int(row["status"]),
    }


def activity_body(
    sub: str, period: Period, rows: Sequence[Row], break_glass_rows: Sequence[Row]
) -> dict[str, Any]:
    """The response of GET /audit/principals/{sub}/activity."""
    buckets = hourly_buckets(rows, period)
    return {
        "principal": sub,
        "period": {"start": iso_from_us(period.start_us), "end": iso_from_us(period.end_us)},
        "bucket_seconds": HOUR_US // 1_000_000,
        "buckets": buckets,
        "totals": totals(buckets),
        "baseline": baseline(rows, period),
        "break_glass_uses": [break_glass_view(r) for r in break_glass_rows],
    }
