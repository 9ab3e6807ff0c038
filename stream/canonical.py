"""The canonical encoding (evidence.core.encoding, the definition) through orjson: the same
bytes about five times faster, for the outbox's hot path.

orjson with sorted keys writes what the definition writes for every value it accepts; what
it cannot write (integers beyond 64 bits, keys that are not strings, lone surrogates) goes
to the definition, which writes or refuses it exactly as before. Property-tested against
the definition (tests/stream/test_canonical.py).
"""

from typing import Any

import orjson

from evidence.core import canonical_bytes
from evidence.core.encoding import holds_float


def fast_canonical_bytes(value: dict[str, Any]) -> bytes:
    if holds_float(value):
        raise ValueError("canonical encoding holds no floats")
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return canonical_bytes(value)
