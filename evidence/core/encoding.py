"""Canonical byte encoding: the exact bytes that are hashed and chained.

JSON with sorted keys, no insignificant white space, UTF-8, no floats (events hold
only strings, integers, booleans, null and lists of those). Same value, same bytes.
This is the definition, in the standard library alone (a verifier needs nothing else);
the outbox writes the same bytes faster (stream.canonical), checked against this.
"""

import json
from typing import Any

_ENCODER = json.JSONEncoder(  # built once: json.dumps would build one per call
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(value: dict[str, Any]) -> bytes:
    if holds_float(value):
        raise ValueError("canonical encoding holds no floats")
    return _ENCODER.encode(value).encode("utf-8")


def holds_float(value: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Whether a float hides anywhere in `value`. Recursive walk over containers; plain
    scalars (the bulk of a payload) cost one type check each."""
    for item in value.values() if isinstance(value, dict) else value:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if isinstance(item, float):
            return True
        if isinstance(item, dict | list | tuple) and holds_float(item):
            return True
    return False
