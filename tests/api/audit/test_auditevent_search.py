"""AuditEvent search parameters and paging over split rows (pure)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.audit.auditevent_search import (
    COUNT_DEFAULT,
    COUNT_MAX,
    date_bounds,
    date_range_us,
    decode_resume,
    encode_resume,
    page_parts,
    parse_auditevent_search,
    row_parts,
)
from api.errors import InvalidRequest
from evidence.store.access_query import FOREVER_US


def us(*parts: int) -> int:
    moment = datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
    return int(moment.timestamp()) * 1_000_000


def test_parameters_parsed() -> None:
    query = parse_auditevent_search(
        [
            ("patient", "Patient/pat-1"),
            ("agent", "dr-ada"),
            ("entity", "https://x.example/fhir/Observation/obs-9"),
            ("outcome", "4,http://terminology.hl7.org/CodeSystem/audit-event-outcome|8"),
            ("date", "ge2025-01-01"),
            ("date", "lt2025-02"),
            ("_count", "500"),
        ]
    )
    assert (query.patient, query.agent, query.entity) == ("pat-1", "dr-ada", "Observation/obs-9")
    assert query.outcomes == (4, 8) and query.count == COUNT_MAX
    assert (query.since_us, query.until_us) == (us(2025, 1, 1), us(2025, 2, 1))
    assert ("_count", "500") in query.kept
    assert parse_auditevent_search([]).count == COUNT_DEFAULT
    assert parse_auditevent_search([("patient", "pat-2")]).patient == "pat-2"


@pytest.mark.parametrize(
    "params",
    [
        [("name", "x")],
        [("patient", "Observation/1")],
        [("patient", "a b")],
        [("patient", "p1"), ("patient", "p2")],
        [("entity", "no-type")],
        [("outcome", "3")],
        [("outcome", "http://other|4")],
        [("date", "ne2025")],
        [("date", "2025-13")],
        [("date", "yesterday")],
        [("_count", "-1")],
        [("_format", "xml")],
        [("agent", "a,b")],
    ],
)
def test_bad_parameters_answer_400(params: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        parse_auditevent_search(params)


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("2025", us(2025, 1, 1), us(2026, 1, 1)),
        ("2025-12", us(2025, 12, 1), us(2026, 1, 1)),
        ("2025-02-28", us(2025, 2, 28), us(2025, 3, 1)),
        ("2025-02-28T10:00Z", us(2025, 2, 28, 10), us(2025, 2, 28, 10, 1)),
        ("2025-02-28T10:00:05+01:00", us(2025, 2, 28, 9, 0, 5), us(2025, 2, 28, 9, 0, 6)),
        ("2025-02-28T10:00:05.25", us(2025, 2, 28, 10, 0, 5) + 250_000,
         us(2025, 2, 28, 10, 0, 5) + 260_000),
    ],
)  # fmt: skip
def test_date_precision_is_a_range(text: str, lo: int, hi: int) -> None:
    assert date_range_us(text) == (lo, hi)


def test_date_prefixes() -> None:
    lo, hi = us(2025, 3, 1), us(2025, 3, 2)
    assert date_bounds("2025-03-01") == (lo, hi)
    assert date_bounds("eq2025-03-01") == (lo, hi)
    assert date_bounds("ge2025-03-01") == (lo, FOREVER_US)
    assert date_bounds("gt2025-03-01") == date_bounds("sa2025-03-01") == (hi, FOREVER_US)
    assert date_bounds("le2025-03-01") == (0, hi)
    assert date_bounds("lt2025-03-01") == date_bounds("eb2025-03-01") == (0, lo)


def row(event_id: str, ts: int, patients: int) -> dict[str, Any]:
    return {"event_id": event_id, "ts_us": ts, "patient_hashes": [f"p{n}" for n in range(patients)]}


def test_row_parts() -> None:
    assert row_parts(row("a", 1, 0)) == [0] and row_parts(row("a", 1, 1)) == [0]
    assert row_parts(row("a", 1, 3)) == [1, 2, 3]
    assert row_parts(row("a", 1, 3), "p1") == [2]


ROWS = [row(f"e{n}", 100 - n, n % 4) for n in range(12)]


def _walk(count: int) -> list[tuple[str, int]]:
    """Page through ROWS as the route does: read count + 1 rows from the resume point."""
    seen: list[tuple[str, int]] = []
    resume = None
    for _ in range(100):
        start = (
            0
            if resume is None
            else next(i for i, r in enumerate(ROWS) if r["event_id"] == resume[1])
        )
        rows = ROWS[start : start + count + 1]
        page, resume = page_parts(rows, count, resume[2] if resume else 0, count + 1)
        assert len(page) <= count
        seen += [(r["event_id"], part) for r, part in page]
        if resume is None:
            return seen
        assert decode_resume(encode_resume(resume)) == resume
    raise AssertionError("paging does not end")


@given(st.integers(min_value=1, max_value=8))
def test_pages_deliver_every_part_once(count: int) -> None:
    expected = [(r["event_id"], part) for r in ROWS for part in row_parts(r)]
    assert _walk(count) == expected


def test_zero_count_is_an_empty_page() -> None:
    assert page_parts(ROWS, 0, 0, 0) == ([], None)
