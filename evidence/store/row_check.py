"""The check of every row `insert_rows` sends (see `ingest`): the engine's `JSONExtract` would
store a missing field, a value of another JSON kind or an out-of-range integer as the column
type's default, silently, so such a row stops its whole batch here, with a clear error."""

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from evidence.core.errors import EvidenceError
from evidence.store.columns import COLUMN_TYPES, INT_COLUMNS, ROW_COLUMNS, with_added_columns


class InvalidEvidenceRow(EvidenceError):
    """A row handed to the store is not an evidence row (a bug upstream: rows are built by
    `to_evidence_record`); nothing of the batch is stored."""

    code = "event.invalid_row"


def _kind(name: str) -> type:
    if name in INT_COLUMNS:
        return int
    return list if COLUMN_TYPES[name].startswith("Array(") else str


def _int_range(name: str) -> tuple[int, int]:
    kind = COLUMN_TYPES[name]
    bits = int(kind.removeprefix("U").removeprefix("Int"))
    low, high = (
        (0, 2**bits - 1) if kind.startswith("U") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    return (1, high) if name == "sequence" else (low, high)  # chains start at sequence 1


_INT_RANGES = {name: _int_range(name) for name in sorted(INT_COLUMNS)}
_PICK_INTS = itemgetter(*_INT_RANGES)
_ROW_KEYS = frozenset(ROW_COLUMNS)
_KIND_OF = {name: _kind(name) for name in ROW_COLUMNS}
_KINDS_BY_ORDER: dict[tuple[str, ...], tuple[type, ...]] = {}
_SEQUENCE_KINDS = (list, tuple)


def checked_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows to send, each with exactly the evidence columns, values of their JSON kind
    and integers in their column's range (sequences from 1); an older version's row gets
    the columns added since with their defaults (`columns.ADDED_COLUMNS`). Raises
    InvalidEvidenceRow naming the first bad row's position and field."""
    out = list(rows)
    for position, row in enumerate(out):
        # Fast path (C-level comparisons): the kinds expected for this order of the fields.
        kinds = _kinds_in_order(tuple(row))
        if kinds is None or tuple(map(type, row.values())) != kinds:
            out[position] = _checked_row(position, row)
    if out:
        _check_ranges(out)
    return out


def _check_ranges(rows: list[dict[str, Any]]) -> None:
    """Per integer column, the batch's least and greatest value, from one numpy table of the
    integer fields (a value beyond Int64 leaves it to the exact, slower loop)."""
    picked = list(map(_PICK_INTS, rows))
    try:
        table = np.array(picked, dtype=np.int64)
    except OverflowError:
        _check_ranges_exactly(picked)
        return
    least, greatest = table.min(axis=0).tolist(), table.max(axis=0).tolist()
    for k, (low, high) in enumerate(_INT_RANGES.values()):
        if least[k] < low or greatest[k] > high:
            _check_ranges_exactly(picked)


def _check_ranges_exactly(picked: list[tuple[int, ...]]) -> None:
    for position, values in enumerate(picked):
        for value, (name, (low, high)) in zip(values, _INT_RANGES.items(), strict=True):
            if not low <= value <= high:
                raise InvalidEvidenceRow(f"row {position}: {name} is outside {low}..{high}")


def _kinds_in_order(order: tuple[str, ...]) -> tuple[type, ...] | None:
    """The JSON kinds of the columns in this order, if it is an order of exactly the columns
    (remembered: rows built by the same code share one order)."""
    kinds = _KINDS_BY_ORDER.get(order)
    if kinds is None and len(order) == len(_ROW_KEYS) and _ROW_KEYS.issuperset(order):
        kinds = tuple(_KIND_OF[name] for name in order)
        if len(_KINDS_BY_ORDER) < 64:
            _KINDS_BY_ORDER[order] = kinds
    return kinds


def _checked_row(position: int, row: dict[str, Any]) -> dict[str, Any]:
    row = with_added_columns(row)
    if row.keys() != _ROW_KEYS:
        extra = sorted(row.keys() - _ROW_KEYS) or sorted(_ROW_KEYS - row.keys())
        raise InvalidEvidenceRow(f"row {position}: not the evidence columns ({extra[0]})")
    _check_fields(position, row)
    return row


def _check_fields(position: int, row: dict[str, Any]) -> None:
    """The slow path of `checked_rows`: tuples stand for lists; anything else is refused."""
    for name, kind in _KIND_OF.items():
        value = row[name]
        ok = isinstance(value, _SEQUENCE_KINDS) if kind is list else type(value) is kind
        if not ok:
            raise InvalidEvidenceRow(f"row {position}: {name} is not a JSON {kind.__name__}")
