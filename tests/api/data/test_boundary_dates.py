"""Valid FHIR dates at the edges of the calendar (years 0001 and 9999, every precision,
offsets up to ±14:00) are indexed and searched, never an error: as ranges whose text sorts
in time order, parsed by every date search parameter with every prefix."""

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.data.indexing import OPEN_END, SEARCH_PARAMS, index_entries, parse_fhir_date
from api.data.query import DateIn
from api.errors import InvalidRequest
from api.fhir.search import parse_search

YEARS = st.sampled_from([1, 2, 999, 1970, 2024, 9998, 9999])
OFFSETS = st.sampled_from(["Z", "+14:00", "-14:00", "+00:00", "-00:00", "+05:30", "-09:30"])
PREFIXES = ("", "eq", "gt", "ge", "lt", "le")
DATE_PARAMS = sorted(
    (rtype, name) for rtype, params in SEARCH_PARAMS.items()
    for name, param in params.items() if param.kind == "date"
)  # fmt: skip


@st.composite
def fhir_dates(draw: st.DrawFn) -> str:
    """A valid FHIR date, dateTime or instant of any precision, often at a boundary."""
    year = draw(YEARS)
    month = draw(st.sampled_from([1, 2, 12]))
    day = draw(st.sampled_from([1, 28, 31 if month != 2 else 29]))
    if month == 2 and day == 29 and not _leap(year):
        day = 28
    precision = draw(st.sampled_from(["year", "month", "day", "seconds", "fraction"]))
    if precision == "year":
        return f"{year:04d}"
    if precision == "month":
        return f"{year:04d}-{month:02d}"
    date = f"{year:04d}-{month:02d}-{day:02d}"
    if precision == "day":
        return date
    clock = draw(st.sampled_from(["00:00:00", "23:59:59", "12:00:00"]))
    fraction = ".999999999" if precision == "fraction" else ""
    return f"{date}T{clock}{fraction}{draw(OFFSETS)}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _utc(text: str) -> datetime | None:
    """The UTC moment of a dateTime, or None outside what datetime holds."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError:
        return None


@given(fhir_dates())
def test_every_valid_date_has_an_ordered_range(text: str) -> None:
    lo, hi = parse_fhir_date(text)
    assert lo <= hi and len(lo) == len(hi) == 19
    moment = _utc(text) if "T" in text else None
    if moment is not None:
        assert lo == moment.strftime("%Y-%m-%dT%H:%M:%S").zfill(19)


@given(fhir_dates(), fhir_dates())
def test_the_text_sorts_in_time_order(first: str, second: str) -> None:
    a, b = (_utc(t) if "T" in t else None for t in (first, second))
    if a is not None and b is not None:
        assert (a < b) == (parse_fhir_date(first)[0] < parse_fhir_date(second)[0]) or (
            a.replace(microsecond=0) == b.replace(microsecond=0)
        )


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("0001-01-01T00:00:00+14:00", "0000-12-31T10:00:00", "0000-12-31T10:00:00"),
        ("9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59", "9999-12-31T23:59:59"),
        ("9999", "9999-01-01T00:00:00", "9999-12-31T23:59:59"),
        ("9999-12", "9999-12-01T00:00:00", "9999-12-31T23:59:59"),
        ("0001", "0001-01-01T00:00:00", "0001-12-31T23:59:59"),
        ("0999-05-06T10:00:00Z", "0999-05-06T10:00:00", "0999-05-06T10:00:00"),
    ],
)
def test_boundary_examples(text: str, lo: str, hi: str) -> None:
    assert parse_fhir_date(text) == (lo, hi)


def test_an_open_period_ends_after_every_date() -> None:
    [(_, _, lo, hi)] = [e for e in index_entries(
        {"resourceType": "Encounter", "period": {"start": "9999-12-31T23:59:59-14:00"}}
    ) if e[0] == "date"]  # fmt: skip
    assert lo == "9999-12-31T23:59:59" and hi == OPEN_END > parse_fhir_date("9999")[1]


@given(
    st.sampled_from(DATE_PARAMS),
    st.sampled_from(PREFIXES),
    st.lists(fhir_dates(), min_size=1, max_size=2),
)
def test_every_date_parameter_parses_every_boundary(
    param: tuple[str, str], prefix: str, dates: list[str]
) -> None:
    rtype, name = param
    value = ",".join(prefix + date for date in dates)
    [criterion] = parse_search(rtype, [(name, value)]).criteria
    assert isinstance(criterion, DateIn) and len(criterion.ranges) == len(dates)


@given(st.sampled_from(DATE_PARAMS), st.text(max_size=40))
def test_anything_else_is_invalid_request_or_parsed(param: tuple[str, str], value: str) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_search(param[0], [(param[1], value)])


@given(fhir_dates())
def test_indexing_a_resource_with_a_boundary_date_never_fails(text: str) -> None:
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p", "birthDate": text[:10].split("T")[0]},
        {"resourceType": "Observation", "id": "o", "effectiveDateTime": text},
        {"resourceType": "Encounter", "id": "e", "period": {"start": text, "end": text}},
        {"resourceType": "Patient", "id": "p", "meta": {"lastUpdated": text}},
    ]
    for resource in resources:
        assert index_entries(resource)


def test_offsets_at_the_edges_of_a_day_shift_the_utc_date() -> None:
    lo, _ = parse_fhir_date("2024-03-01T00:00:00+14:00")
    assert lo == (datetime(2024, 3, 1, tzinfo=UTC) - timedelta(hours=14)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
