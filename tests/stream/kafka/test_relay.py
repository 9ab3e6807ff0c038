"""The relay marks outbox rows sent only after the broker acknowledged them (fake producer:
the real broker is in test_kafka_pipeline)."""

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.kafka.messages import decode_raw_event, raw_envelope
from stream.kafka.relay import OutboxRelay
from stream.outbox import OutboxReader
from stream.outbox_retention import OutboxRetention
from tests.stream.kafka.kafka_support import append, open_writer


class FakeProducer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = fail

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, key: bytes) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(TimeoutError("no acknowledgement"))
        else:
            self.sent.append((topic, value, key))
            future.set_result(None)
        return future


def _relay(tmp_path: Path, producer: FakeProducer) -> tuple[OutboxRelay, OutboxReader]:
    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(25))
    writer.close()
    reader = OutboxReader(tmp_path / "outbox.sqlite", "relay")
    relay = OutboxRelay(reader, lambda: producer, lambda *_: False, batch_size=10, topic="raw")
    return relay, reader


def test_rows_are_published_in_order_keyed_by_principal(tmp_path: Path) -> None:
    producer = FakeProducer()
    relay, reader = _relay(tmp_path, producer)
    while asyncio.run(relay.publish_available(producer)):
        pass
    assert relay.lag() == 0 and reader.position() == 25
    by_key: dict[bytes, list[int]] = {}
    for _, value, key in producer.sent:
        producer_id, items = raw_envelope(value)
        events = [decode_raw_event(producer_id, item) for item in items]
        assert {e.event["sub"].encode() for e in events} == {key}  # one principal per message
        by_key.setdefault(key, []).extend(e.sequence for e in events)
    assert sorted(s for seqs in by_key.values() for s in seqs) == list(range(1, 26))
    assert all(seqs == sorted(seqs) for seqs in by_key.values())  # per-principal order
    assert orjson.loads(producer.sent[0][1])["events"][0]["event"]["patient_ids"]  # raw ids


def test_nothing_is_marked_sent_without_an_acknowledgement(tmp_path: Path) -> None:
    producer = FakeProducer(fail=True)
    relay, reader = _relay(tmp_path, producer)
    with pytest.raises(TimeoutError):
        asyncio.run(relay.publish_available(producer))
    assert reader.position() == 0 and relay.lag() == 25
    producer.fail = False
    asyncio.run(relay.publish_available(producer))
    assert reader.position() == 10


def test_acknowledged_rows_leave_the_outbox_after_the_retention(tmp_path: Path) -> None:
    """The relay's retention (stream.outbox_retention): rows the broker acknowledged go once
    older than the retention; unacknowledged rows stay, whatever their age."""
    producer = FakeProducer()
    relay, reader = _relay(tmp_path, producer)
    relay.retention = OutboxRetention(tmp_path / "outbox.sqlite", 0.0)
    asyncio.run(relay.publish_available(producer))  # 1..10 acknowledged
    producer.fail = True
    with pytest.raises(TimeoutError):
        asyncio.run(relay.publish_available(producer))  # purges 1..10; 11..20 not acknowledged
    rows = reader.read_after(0, 100)
    assert [r.sequence for r in rows] == list(range(11, 26))
    assert reader.position() == 10 and relay.lag() == 15
