"""Canonical byte encoding: the exact bytes that are hashed and chained.

JSON with sorted keys, no insignificant white space, UTF-8, no floats (events hold
only strings, integers, booleans, null and lists of those). Same value, same bytes.
"""

import json
from typing import Any

_ENCODER = json.JSONEncoder(  # built once: json.dumps would build one per call
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(value: dict[str, Any]) -> bytes:
    _reject_floats(value)
    return _ENCODER.encode(value).encode("utf-8")


_SCALARS = (str, int, bool, type(None))


def _reject_floats(value: Any) -> None:
    """Iterative walk; plain scalars (the bulk of a payload) cost one type check each."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) in _SCALARS:
            continue
        if isinstance(item, float):
            raise ValueError("canonical encoding holds no floats")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(x for x in item if type(x) not in _SCALARS)
