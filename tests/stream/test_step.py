"""The stream step on its own: the seal check on the exact sealed bytes (raw event for
enrichment only), poison returned for its driver to park, one deduplication token per set
of rows, retries while the store is down (for a patience, or until stopped), detection
after the store and never holding it back."""

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core import StoreUnavailable
from stream.outbox import OutboxReader, OutboxRow
from stream.sealed import RAW_MISMATCH, SEAL_MISMATCH, UNKNOWN_KEY_VERSION
from stream.step import EvidenceStep, StepStopped, batch_token
from tests.stream.kafka.kafka_support import append, open_writer

Row = dict[str, Any]


@pytest.fixture
def logged(tmp_path: Path) -> list[OutboxRow]:
    """Three events as the outbox sealed them."""
    writer = open_writer(tmp_path / "outbox.sqlite")
    append(writer, range(3))
    writer.close()
    reader = OutboxReader(tmp_path / "outbox.sqlite", "t")
    try:
        return reader.read_after(0, 10)
    finally:
        reader.close()


class MemorySink:
    """Records inserts; refuses them while `down` is set."""

    def __init__(self, down: bool = False) -> None:
        self.down, self.attempts = down, 0
        self.batches: list[tuple[list[Row], str]] = []

    def insert_rows(self, rows: Sequence[Row], dedup_token: str) -> None:
        self.attempts += 1
        if self.down:
            raise StoreUnavailable("down")
        self.batches.append((list(rows), dedup_token))


class Recorder:
    def __init__(self, sink: MemorySink | None = None, fail: bool = False) -> None:
        self.sink, self.fail = sink, fail
        self.seen: list[tuple[list[Row], list[Mapping[str, Any]]]] = []

    def observe(self, rows: Sequence[Row], enrichments: Sequence[Mapping[str, Any]]) -> None:
        assert self.sink is None or self.sink.batches, "detection ran before the store"
        self.seen.append((list(rows), list(enrichments)))
        if self.fail:
            raise RuntimeError("a rule failed")


def test_rows_are_stored_then_detected_with_enrichment_from_the_raw_event(
    logged: list[OutboxRow],
) -> None:
    sink = MemorySink()
    detection = Recorder(sink)
    step = EvidenceStep(sink, {1}, "inline", lambda e: {"saw": e["sub"]}, detection)
    assert step.run(logged) == []
    [(rows, token)] = sink.batches
    assert [r["sequence"] for r in rows] == [1, 2, 3] and token == batch_token(rows)
    assert [r["event_hash"] for r in rows] == [row.event_hash for row in logged]
    [(seen, enrichments)] = detection.seen
    assert seen == rows and enrichments == [{"saw": row.event["sub"]} for row in logged]
    for row, raw in zip(rows, logged, strict=True):  # patients reach the store as pseudonyms
        assert all(f'"{pid}"' not in orjson.dumps(row).decode() for pid in raw.event["patient_ids"])
    assert step.stored == 3


@pytest.mark.parametrize(("tamper", "code"), [
    ("payload", SEAL_MISMATCH), ("event_id", RAW_MISMATCH), ("key_version", UNKNOWN_KEY_VERSION),
    ("producer", SEAL_MISMATCH), ("prev", SEAL_MISMATCH),
])  # fmt: skip
def test_an_event_failing_its_checks_is_returned_for_parking(
    logged: list[OutboxRow], tamper: str, code: str
) -> None:
    first = logged[0]
    bad = {
        "payload": lambda: _replace(first, payload=first.payload.replace(b'"allow"', b'"deny"')),
        "event_id": lambda: _replace(first, event={**first.event, "event_id": "someone-else"}),
        "key_version": lambda: _replace(first, key_version=9),
        "producer": lambda: _replace(first, producer_id="api-other"),
        "prev": lambda: _replace(first, prev_hash="f" * 64),
    }[tamper]()
    sink = MemorySink()
    parked = EvidenceStep(sink, {1}, "kafka").run([bad, *logged[1:]])
    assert [(p.row, p.error.code) for p in parked] == [(bad, code)]
    [(rows, _)] = sink.batches
    assert [r["sequence"] for r in rows] == [2, 3]


def test_a_batch_of_poison_only_stores_nothing(logged: list[OutboxRow]) -> None:
    sink = MemorySink()
    bad = _replace(logged[0], key_version=7)
    assert len(EvidenceStep(sink, {1}, "inline").run([bad])) == 1
    assert sink.batches == [] and sink.attempts == 0


def test_failing_enrichment_and_detection_never_hold_evidence_back(
    logged: list[OutboxRow],
) -> None:
    sink = MemorySink()

    def broken(_: Mapping[str, Any]) -> dict[str, Any]:
        raise KeyError("facts")

    detection = Recorder(fail=True)
    EvidenceStep(sink, {1}, "inline", broken, detection).run(logged)
    assert len(sink.batches[0][0]) == 3
    assert detection.seen[0][1] == [{}, {}, {}]


def test_store_down_raises_after_the_patience(logged: list[OutboxRow]) -> None:
    sink = MemorySink(down=True)
    step = EvidenceStep(sink, {1}, "inline", max_backoff_s=0.01)
    with pytest.raises(StoreUnavailable):
        step.run(logged, patience_s=0.0)
    assert sink.attempts == 1
    with pytest.raises(StoreUnavailable):
        step.run(logged, patience_s=0.1)
    assert sink.attempts > 2 and step.paused and step.stored == 0


def test_stopped_while_the_store_is_down_raises_instead_of_returning(
    logged: list[OutboxRow],
) -> None:
    sink = MemorySink(down=True)
    step = EvidenceStep(sink, {1}, "kafka", max_backoff_s=0.01)
    threading.Timer(0.2, step.stop).start()
    with pytest.raises(StepStopped):
        step.run(logged)
    assert sink.attempts > 1 and step.paused and step.stored == 0


def test_the_store_coming_back_resumes(logged: list[OutboxRow]) -> None:
    sink = MemorySink(down=True)
    step = EvidenceStep(sink, {1}, "kafka", max_backoff_s=0.01)
    threading.Timer(0.1, lambda: setattr(sink, "down", False)).start()
    assert step.run(logged) == []
    assert not step.paused and step.stored == 3 and len(sink.batches) == 1


hashes = st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), min_size=1,
                  max_size=20, unique=True)  # fmt: skip


@given(hashes, hashes)
def test_batch_token_names_exactly_the_rows(first: list[str], second: list[str]) -> None:
    one = [{"event_hash": h} for h in first]
    other = [{"event_hash": h} for h in second]
    assert batch_token(one) == batch_token([dict(row) for row in one])
    assert (batch_token(one) == batch_token(other)) == (first == second)


def _replace(row: OutboxRow, **changes: Any) -> OutboxRow:
    values = {name: getattr(row, name) for name in OutboxRow.__slots__}
    return OutboxRow(**{**values, **changes})
