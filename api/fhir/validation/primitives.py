"""FHIR R4 primitive values in JSON: booleans are JSON booleans, integers and decimals JSON
numbers (within the type's range), everything else a non-empty string matching the type's
regular expression from the specification; dates also name real calendar days."""

import datetime
import functools
import re

from api.fhir.validation.definitions import primitive_regex

__all__ = ["primitive_problem"]

_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "positiveInt": (1, 2**31 - 1),
              "unsignedInt": (0, 2**31 - 1)}  # fmt: skip
_DATED = ("date", "dateTime", "instant")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@functools.cache
def _pattern(code: str) -> re.Pattern[str] | None:
    regex = primitive_regex(code)
    return None if regex is None else re.compile(regex)


def primitive_problem(code: str, value: object) -> str | None:
    """Why `value` is not a valid JSON value of the FHIR primitive type `code` (None: valid)."""
    if code == "boolean":
        return None if isinstance(value, bool) else "must be a JSON boolean (true or false)"
    if code in _INT_RANGE:
        low, high = _INT_RANGE[code]
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be a JSON number holding an {code}"
        return None if low <= value <= high else f"is out of the range of {code}"
    if code == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a JSON number holding a decimal"
    if not isinstance(value, str):
        return f"must be a JSON string holding a {code}"
    return _string_problem(code, value)


def _string_problem(code: str, value: str) -> str | None:
    if value == "":
        return "must not be empty (leave the element out instead)"
    pattern = _pattern(code)
    if pattern is not None and pattern.fullmatch(value) is None:
        return f"is not a valid {code}"
    if code in _DATED and not _real_day(value):
        return f"is not a valid {code}: no such day"
    return None


def _real_day(value: str) -> bool:
    match = _DAY.match(value)
    if match is None:
        return True  # a year or a year-month: the regex judged it
    year, month, day = (int(g) for g in match.groups())
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True
