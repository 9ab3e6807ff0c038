"""Kafka message bodies: per-principal runs, round trips, poison detection."""

import pytest

from stream.kafka.messages import (
    MAX_EVENTS,
    decode_raw_event,
    encode_raw,
    principal_runs,
    raw_envelope,
)
from stream.outbox import OutboxRow
from stream.sealed import EMPTY, NOT_JSON, SCHEMA, PoisonEvent


def _row(n: int, sub: str) -> OutboxRow:
    return OutboxRow(
        n, {"sub": sub, "n": n}, b'{"n":"\xc3\xa9"}', f"prev{n}", f"hash{n}", 1, "api-1"
    )


def test_runs_keep_each_principals_order_and_stay_small() -> None:
    rows = [_row(n, "a" if n % 3 else "b") for n in range(1, 2 * MAX_EVENTS + 50)]
    runs = principal_runs(rows)
    assert all(len(run) <= MAX_EVENTS for _, run in runs)
    for key in (b"a", b"b"):
        sequences = [r.sequence for k, run in runs if k == key for r in run]
        assert sequences == [r.sequence for r in rows if r.event["sub"] == key.decode()]


def test_raw_round_trip() -> None:
    rows = [_row(1, "a"), _row(2, "a")]
    producer, items = raw_envelope(encode_raw(rows, "api-1"))
    decoded = [decode_raw_event(producer, item) for item in items]
    assert decoded == rows  # the sealed payload bytes survive exactly (UTF-8 included)


@pytest.mark.parametrize(("value", "code"), [
    (None, EMPTY), (b"", NOT_JSON), (b"nope", NOT_JSON), (b"[]", SCHEMA), (b'{"v": 2}', SCHEMA),
    (b'{"v": 1}', SCHEMA), (b'{"v": 1, "producer_id": 1, "events": []}', SCHEMA),
])  # fmt: skip
def test_bad_raw_envelopes_are_poison(value: bytes | None, code: str) -> None:
    with pytest.raises(PoisonEvent) as caught:
        raw_envelope(value)
    assert caught.value.code == code


@pytest.mark.parametrize("item", [3, {}, {"sequence": "x", "prev_hash": "", "event_hash": "",
                                            "key_version": 1, "event": {}, "payload": "{}"},
                                  {"sequence": 1, "prev_hash": "", "event_hash": "",
                                   "key_version": 1, "event": [], "payload": "{}"},
                                  {"sequence": 1, "prev_hash": "", "event_hash": "",
                                   "key_version": 1, "event": {}}])  # fmt: skip
def test_bad_raw_events_are_poison(item: object) -> None:
    with pytest.raises(PoisonEvent) as caught:
        decode_raw_event("api-1", item)
    assert caught.value.code == SCHEMA
