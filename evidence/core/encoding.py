"""Canonical byte encoding: the exact bytes that are hashed and chained.

JSON with sorted keys, no insignificant white space, UTF-8, no floats (events hold
only strings, integers, booleans, null and lists of those). Same value, same bytes.

`reference_bytes` is the definition (the standard library's encoder); `canonical_bytes`
gives the same bytes faster through orjson, and falls back to the definition for whatever
orjson would render differently or cannot render (integers beyond 64 bits, keys that are
not strings, lone surrogates: those raise as the definition does).
"""

import json
from typing import Any

import orjson

_ENCODER = json.JSONEncoder(  # built once: json.dumps would build one per call
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(value: dict[str, Any]) -> bytes:
    if _holds_float(value):
        raise ValueError("canonical encoding holds no floats")
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return reference_bytes(value)


def reference_bytes(value: dict[str, Any]) -> bytes:
    """The canonical form by its definition (slower; what `canonical_bytes` must equal)."""
    if _holds_float(value):
        raise ValueError("canonical encoding holds no floats")
    return _ENCODER.encode(value).encode("utf-8")


def _holds_float(value: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Recursive walk over containers; plain scalars (the bulk of a payload) cost one
    type check each."""
    for item in value.values() if isinstance(value, dict) else value:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if isinstance(item, float):
            return True
        if isinstance(item, dict | list | tuple) and _holds_float(item):
            return True
    return False
