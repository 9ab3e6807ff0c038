"""StateSerializer: the same JSON as serialising the whole engine, only changed parts redone."""

import orjson

from stream.alerting.detector_state import StateSerializer
from stream.detection import DetectionEngine, advance, compact, engine_state_to_dict
from tests.stream.detection.support import DAY, MIN, T0, S, denial, spaced


def whole(engine: DetectionEngine) -> bytes:
    return orjson.dumps(engine_state_to_dict(engine))


def test_same_json_and_only_changed_principals_serialised_again() -> None:
    engine, serializer = DetectionEngine(), StateSerializer()
    alice = spaced(50, S)
    bob = spaced(50, S, first=100, sub="dr-bob")
    advance(engine, [*alice, *bob])
    assert serializer.dumps(engine) == whole(engine) and serializer.serialised == 2
    assert serializer.dumps(engine) == whole(engine) and serializer.serialised == 0

    more = [denial(500 + i, T0 + MIN + i * S, sub="dr-bob") for i in range(3)]
    advance(engine, more)
    serializer.touched({e.principal for e in more})
    assert serializer.dumps(engine) == whole(engine) and serializer.serialised == 1

    engine = compact(engine, T0 + 2 * DAY)  # both principals' windows slide
    assert serializer.dumps(engine) == whole(engine) and serializer.serialised == 2
    engine = compact(engine, T0 + 3 * DAY)  # nothing left to compact
    assert serializer.dumps(engine) == whole(engine) and serializer.serialised == 0


def test_principals_gone_are_gone() -> None:
    engine, serializer = DetectionEngine(), StateSerializer()
    advance(engine, [denial(i, T0 + i * S, sub="", client_id="") for i in range(3)])
    serializer.dumps(engine)
    engine = compact(engine, T0 + 3 * DAY)
    assert serializer.dumps(engine) == whole(engine) == b'{"format":1,"principals":{}}'
