"""The detector's state as JSON, re-serialising only what changed since the last time.

`engine_state_to_dict` of the whole engine at every persist costs O(all principals), most
of them idle. Here each principal's part is cached with the very mapping it was made from:
a batch marks the principals it touched (`touched`), and `compact` hands a changed
principal a new mapping (an unchanged one keeps its own), so the rest is reused as bytes.
The output is the same JSON as `orjson.dumps(engine_state_to_dict(engine))`.
"""

from collections.abc import Iterable

import orjson

from stream.detection import DetectionEngine, principal_state_to_dict
from stream.detection.engine import ENGINE_FORMAT
from stream.detection.owners import PrincipalState


class StateSerializer:
    def __init__(self) -> None:
        self._parts: dict[str, tuple[PrincipalState, bytes]] = {}
        self.serialised = 0  # principals serialised (not reused) by the last `dumps`

    def touched(self, principals: Iterable[str]) -> None:
        """These principals' states changed in place: serialise them again next time."""
        for key in principals:
            self._parts.pop(key, None)

    def dumps(self, engine: DetectionEngine) -> bytes:
        parts: dict[str, tuple[PrincipalState, bytes]] = {}
        self.serialised = 0
        for key, state in engine.principals.items():
            part = self._parts.get(key)
            if part is None or part[0] is not state:
                part = (state, _part(key, state))
                self.serialised += 1
            parts[key] = part
        self._parts = parts
        body = b",".join(part for _, part in parts.values())
        return b'{"format":%d,"principals":{%b}}' % (ENGINE_FORMAT, body)


def _part(key: str, state: PrincipalState) -> bytes:
    return orjson.dumps(key) + b":" + orjson.dumps(principal_state_to_dict(state))
