"""RawConverter (seal checked on the exact sealed bytes; raw event for enrichment only) and
EvidenceSink (pauses while the store is down; never returns before the batch is stored)."""

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from evidence.store import StoreUnavailable
from stream.kafka.messages import EvidenceMessage, decode_raw_event, encode_raw, raw_envelope
from stream.outbox import OutboxReader
from stream.pipeline import PoisonEvent
from stream.workers import EvidenceSink, RawConverter, SinkStopped, batch_token
from tests.evidence.builders import PSEUDONYMIZER
from tests.stream.kafka.kafka_support import append, open_writer


@pytest.fixture
def items(tmp_path: Path) -> tuple[str, list[Any]]:
    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(3))
    writer.close()
    reader = OutboxReader(tmp_path / "outbox.sqlite", "t")
    rows = reader.read_after(0, 10)
    return raw_envelope(encode_raw(rows, reader.producer_id))


def test_converts_with_enrichment_from_the_raw_event(items: tuple[str, list[Any]]) -> None:
    producer, events = items
    converter = RawConverter({1: PSEUDONYMIZER}, lambda e: {"saw": e["sub"]})
    message = converter.convert(producer, events[0])
    raw = decode_raw_event(producer, events[0])
    assert message.row["event_hash"] == raw.event_hash and message.row["sequence"] == 1
    assert message.enrichment == {"saw": raw.event["sub"]}
    patient = raw.event["patient_ids"][0]
    assert f'"{patient}"' not in orjson.dumps(message.row).decode()  # patients: pseudonyms only


@pytest.mark.parametrize("tamper", ["payload", "event_id", "key_version"])
def test_tampered_events_are_poison(items: tuple[str, list[Any]], tamper: str) -> None:
    producer, events = items
    item = dict(events[0])
    if tamper == "payload":
        item["payload"] = item["payload"].replace('"allow"', '"deny"')
    elif tamper == "event_id":
        item["event"] = {**item["event"], "event_id": "someone-else"}
    else:
        item["key_version"] = 9
    with pytest.raises(PoisonEvent):
        RawConverter({1: PSEUDONYMIZER}, None).convert(producer, item)


class DownStore:
    def __init__(self) -> None:
        self.calls = 0

    def insert_rows(self, rows: list[dict[str, Any]], dedup_token: str) -> None:
        self.calls += 1
        raise StoreUnavailable("down")


def test_sink_stopped_while_the_store_is_down_raises_instead_of_returning() -> None:
    store = DownStore()
    sink = EvidenceSink(store, max_backoff_s=0.01)  # type: ignore[arg-type]
    message = EvidenceMessage({"event_id": "e", "event_hash": "h"}, {})
    threading.Timer(0.2, sink.stop).start()
    with pytest.raises(SinkStopped):
        sink.store_batch([message])
    assert store.calls > 1 and sink.paused and sink.stored == 0


def test_batch_token_names_the_rows() -> None:
    one = [EvidenceMessage({"event_hash": "a"}, {}), EvidenceMessage({"event_hash": "b"}, {})]
    assert batch_token(one) == batch_token(list(one))
    assert batch_token(one) != batch_token(one[:1])
