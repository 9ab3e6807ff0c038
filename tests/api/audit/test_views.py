"""Auditor time parameters round-trip the times the auditor API shows, to the microsecond."""

from hypothesis import given
from hypothesis import strategies as st

from api.audit.views import iso_from_us, parse_instant_us


@given(st.integers(min_value=0, max_value=4_102_444_800_000_000))
def test_a_shown_time_parses_back_exactly(ts_us: int) -> None:
    assert parse_instant_us(iso_from_us(ts_us), 0) == ts_us


def test_naive_times_are_utc() -> None:
    assert parse_instant_us("1970-01-01T00:00:01", 0) == 1_000_000
    assert parse_instant_us("1970-01-01T01:00:01+01:00", 0) == 1_000_000
    assert parse_instant_us(None, 7) == 7
