"""Canonical byte encoding: the exact bytes that are hashed and chained.

JSON with sorted keys, no insignificant white space, UTF-8, no floats (events hold
only strings, integers, booleans, null and lists of those). Same value, same bytes.
"""

import json
from typing import Any


def canonical_bytes(value: dict[str, Any]) -> bytes:
    _reject_floats(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _reject_floats(value: Any) -> None:
    """Walks containers only: scalars at the top of a flat payload cost one type check."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return
    if kind is float:
        raise ValueError("canonical encoding holds no floats")
    if isinstance(value, dict):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)
    elif isinstance(value, float):
        raise ValueError("canonical encoding holds no floats")
