"""Neutral criteria compiled into SQLite search-index conditions: the SQL and its bound values
are pinned (they are what the index and the query plans were built for)."""

import contextlib
import sqlite3

import pytest

from api.data.indexing import sortable_number
from api.data.query import (
    Criterion,
    DateIn,
    DateRange,
    IdIn,
    OwnerIn,
    Prefix,
    QuantityIn,
    QuantityRange,
    ReferenceIn,
    StringStartsWith,
    TokenIn,
)
from api.data.sql.compile import compile_alternatives, compile_criterion
from api.data.sql.search import IndexCondition

LO, HI = "2020-01-01T00:00:00", "2020-12-31T23:59:59"
LIKE = "i.value LIKE ? ESCAPE '\\'"


def _dates(*prefixes: Prefix) -> DateIn:
    return DateIn("date", tuple(DateRange(prefix, LO, HI) for prefix in prefixes))


@pytest.mark.parametrize(
    ("criterion", "param", "sql", "args"),
    [
        (TokenIn("code", ("a", "s|b")), "code", "i.value IN (?, ?)", ("a", "s|b")),
        (ReferenceIn("patient", ("Patient/p",)), "patient", "i.value IN (?)", ("Patient/p",)),
        (IdIn(("x", "y")), "_id", "i.value IN (?, ?)", ("x", "y")),
        (OwnerIn(("p1", "p2")), "_id", "i.patient_id IN (?, ?)", ("p1", "p2")),
        (StringStartsWith("name", ("sm", "jo")), "name", f"{LIKE} OR {LIKE}", ("sm%", "jo%")),
        (_dates(Prefix.EQ), "date", "(i.lo >= ? AND i.hi <= ?)", (LO, HI)),
        (_dates(Prefix.GT), "date", "i.hi > ?", (HI,)),
        (_dates(Prefix.GE), "date", "i.hi >= ?", (LO,)),
        (_dates(Prefix.LT), "date", "i.lo < ?", (LO,)),
        (_dates(Prefix.LE), "date", "i.lo <= ?", (HI,)),
        (_dates(Prefix.LT, Prefix.GT), "date", "i.lo < ? OR i.hi > ?", (LO, HI)),
    ],
)
def test_compiled_sql(criterion: Criterion, param: str, sql: str, args: tuple[str, ...]) -> None:
    assert compile_criterion(criterion) == IndexCondition(param, sql, args)


def test_like_wildcards_and_escapes_are_literal() -> None:
    compiled = compile_criterion(StringStartsWith("name", ("50%_a\\b",)))
    assert compiled.args == ("50\\%\\_a\\\\b%",)


def test_quantities() -> None:
    eq = QuantityRange(Prefix.EQ, 5.4, 5.35, 5.45, "kg")
    gt = QuantityRange(Prefix.GT, 7.0, 6.5, 7.5)
    compiled = compile_criterion(QuantityIn("value-quantity", (eq, gt)))
    assert compiled.sql == "((i.lo >= ? AND i.lo < ?) AND i.value = ?) OR (i.lo > ?)"
    expected = (sortable_number(5.35), sortable_number(5.45), "kg", sortable_number(7.0))
    assert compiled.args == expected


def test_alternatives_compile_each_conjunction() -> None:
    alternatives = ((TokenIn("category", ("lab",)), IdIn(("o1",))), ())
    compiled = compile_alternatives(alternatives)
    assert [len(alternative) for alternative in compiled] == [2, 0]


@pytest.mark.parametrize(
    ("prefix", "candidates"),
    [
        ("sm", ("smith", "sm", "asmith", "s")),
        ("50%", ("50% off", "50 off", "500")),
        ("a_b", ("a_bc", "axb", "a_")),
        ("x\\", ("x\\y", "xy")),
        ("é", ("élan", "elan")),
    ],
)
def test_like_prefix_means_starts_with(prefix: str, candidates: tuple[str, ...]) -> None:
    (pattern,) = compile_criterion(StringStartsWith("name", (prefix,))).args
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        for candidate in candidates:
            (like,) = conn.execute("SELECT ? LIKE ? ESCAPE '\\'", (candidate, pattern)).fetchone()
            assert bool(like) is candidate.startswith(prefix), candidate
