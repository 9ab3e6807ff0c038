"""Neutral search criteria (api.data.query) compiled into conditions on search-index rows
(pure; SQLite and PostgreSQL alike). Each condition refers to one row as `i.`; its values
are always bound parameters, never SQL text."""

from collections.abc import Sequence
from typing import Any

from api.data.indexing import sortable_number
from api.data.query import (
    Alternatives,
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
from api.data.sql.search import IndexCondition

__all__ = ["compile_alternatives", "compile_criteria", "compile_criterion"]

_DATE_SQL = {
    Prefix.EQ: "(i.lo >= ? AND i.hi <= ?)",
    Prefix.GT: "i.hi > ?",
    Prefix.GE: "i.hi >= ?",
    Prefix.LT: "i.lo < ?",
    Prefix.LE: "i.lo <= ?",
}
_QUANTITY_SQL = {
    Prefix.GT: "i.lo > ?",
    Prefix.GE: "i.lo >= ?",
    Prefix.LT: "i.lo < ?",
    Prefix.LE: "i.lo <= ?",
}


def compile_alternatives(alternatives: Alternatives) -> tuple[tuple[IndexCondition, ...], ...]:
    return tuple(compile_criteria(alternative) for alternative in alternatives)


def compile_criteria(criteria: Sequence[Criterion]) -> tuple[IndexCondition, ...]:
    return tuple(compile_criterion(criterion) for criterion in criteria)


def compile_criterion(criterion: Criterion) -> IndexCondition:
    if isinstance(criterion, StringStartsWith):
        return _starts_with(criterion)
    if isinstance(criterion, TokenIn):
        return _value_in(criterion.param, criterion.tokens)
    if isinstance(criterion, ReferenceIn):
        return _value_in(criterion.param, criterion.references)
    if isinstance(criterion, IdIn):
        return _value_in("_id", criterion.ids)
    if isinstance(criterion, DateIn):
        return _dates(criterion)
    if isinstance(criterion, QuantityIn):
        return _quantities(criterion)
    return _owners(criterion)


def _value_in(param: str, values: tuple[str, ...]) -> IndexCondition:
    marks = ", ".join("?" for _ in values)
    return IndexCondition(param, f"i.value IN ({marks})", values)


def _owners(criterion: OwnerIn) -> IndexCondition:
    """Every resource has an `_id` index row, and index rows carry the owner patient."""
    marks = ", ".join("?" for _ in criterion.patient_ids)
    return IndexCondition("_id", f"i.patient_id IN ({marks})", criterion.patient_ids)


def _starts_with(criterion: StringStartsWith) -> IndexCondition:
    sql = " OR ".join("i.value LIKE ? ESCAPE '\\'" for _ in criterion.prefixes)
    return IndexCondition(criterion.param, sql, tuple(map(_like_prefix, criterion.prefixes)))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _dates(criterion: DateIn) -> IndexCondition:
    parts = [_DATE_SQL[searched.prefix] for searched in criterion.ranges]
    args = [arg for searched in criterion.ranges for arg in _date_args(searched)]
    return IndexCondition(criterion.param, " OR ".join(parts), tuple(args))


def _date_args(searched: DateRange) -> tuple[str, ...]:
    start, end = searched.start, searched.end
    return {
        Prefix.EQ: (start, end),
        Prefix.GT: (end,),
        Prefix.GE: (start,),
        Prefix.LT: (start,),
        Prefix.LE: (end,),
    }[searched.prefix]


def _quantities(criterion: QuantityIn) -> IndexCondition:
    compiled = [_quantity(searched) for searched in criterion.ranges]
    sql = " OR ".join(f"({part})" for part, _ in compiled)
    return IndexCondition(criterion.param, sql, tuple(arg for _, args in compiled for arg in args))


def _quantity(searched: QuantityRange) -> tuple[str, tuple[Any, ...]]:
    if searched.prefix is Prefix.EQ:
        sql = "(i.lo >= ? AND i.lo < ?)"
        args: tuple[Any, ...] = (sortable_number(searched.low), sortable_number(searched.high))
    else:
        sql, args = _QUANTITY_SQL[searched.prefix], (sortable_number(searched.value),)
    if searched.unit:
        sql, args = sql + " AND i.value = ?", (*args, searched.unit)
    return sql, args
