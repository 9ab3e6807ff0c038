"""The distributed pipeline on a real broker: outbox → relay → Kafka → faust agents → store.

A broker outage under load, the store going away, and poison messages in the dead-letter
topic. (Parity with the inline runtime: test_parity; a worker killed with SIGKILL:
test_kafka_worker.)
"""

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from evidence.core import GENESIS_HASH
from evidence.core.verify import verify_chain
from evidence.store import EvidenceStore, StoreUnavailable
from stream.kafka.messages import encode_raw
from stream.outbox import OutboxRow
from tests.kafka_broker import KafkaBroker
from tests.stream.kafka.kafka_support import (
    Pipeline,
    append,
    consume_all,
    in_thread,
    new_config,
    open_writer,
    produce,
    stored_counts,
)
from tests.support import wait_for

pytestmark = pytest.mark.kafka
EVERYTHING = (0, 2**62)


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path, chdb_client: object) -> Iterator[Pipeline]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = EvidenceStore(chdb_client, database)  # type: ignore[arg-type]
    store.apply_schema()
    writer = open_writer(tmp_path / "outbox.sqlite")
    built = Pipeline(new_config(kafka_bootstrap), store, tmp_path / "outbox.sqlite", writer)
    yield built
    built.stop()
    writer.close()
    store.raw_command(f"DROP DATABASE IF EXISTS {database}")


def _wait_stored(store: EvidenceStore, expected: int, timeout: float) -> None:
    wait_for(lambda: stored_counts(store)[1] >= expected, timeout=timeout)


def test_broker_down_for_20s_under_load_loses_and_duplicates_nothing(
    pipeline: Pipeline, kafka_broker: KafkaBroker
) -> None:
    pipeline.start_workers()
    relay = pipeline.start_relay()
    total, stop_at = 0, time.monotonic() + 32

    def load() -> None:  # ~100 events/s for 32 s, through the broker outage
        nonlocal total
        while time.monotonic() < stop_at:
            append(pipeline.writer, range(total, total + 10))
            total += 10
            time.sleep(0.1)

    loader = in_thread(load)
    time.sleep(4)
    kafka_broker.stop()
    time.sleep(20)
    assert relay.lag() > 0  # the outbox grew while Kafka was away
    kafka_broker.start()
    loader.join()
    _wait_stored(pipeline.store, total, timeout=120)
    time.sleep(2)  # anything extra would show now
    raw, final, distinct = stored_counts(pipeline.store)
    assert final == distinct == total
    assert raw >= total
    assert verify_chain(pipeline.store.chain_rows(*EVERYTHING)).intact


class FlakyStore:
    """The real store, unavailable until `available` is set."""

    def __init__(self, store: EvidenceStore) -> None:
        self.store, self.available, self.refused = store, False, 0

    def insert_rows(self, rows: list[dict[str, object]], dedup_token: str) -> None:
        if not self.available:
            self.refused += 1
            raise StoreUnavailable("down for the test")
        self.store.insert_rows(rows, dedup_token)


def test_store_outage_pauses_the_step_then_it_catches_up(pipeline: Pipeline) -> None:
    flaky = FlakyStore(pipeline.store)
    real, pipeline.store = pipeline.store, flaky  # type: ignore[assignment]
    pipeline.start_workers()
    pipeline.start_relay()
    append(pipeline.writer, range(300))
    assert pipeline.step is not None
    wait_for(lambda: flaky.refused >= 3, timeout=30)
    assert pipeline.step.paused
    assert stored_counts(real)[1] == 0
    flaky.available = True
    _wait_stored(real, 300, timeout=60)
    assert not pipeline.step.paused
    pipeline.store = real


def test_poison_messages_go_to_the_dead_letter_topic(pipeline: Pipeline) -> None:
    pipeline.start_workers()
    names = pipeline.config.names
    bad_event = b'{"v": 1, "producer_id": "p", "events": [{"sequence": "x"}]}'
    produce(pipeline.config.bootstrap, names.raw, [
        (b"k1", b"not json"), (b"k2", b'{"v": 1}'), (b"k3", _forged_run()), (b"k4", bad_event),
    ])  # fmt: skip
    append(pipeline.writer, range(5))  # good events still flow past the poison
    pipeline.start_relay()
    _wait_stored(pipeline.store, 5, timeout=60)
    dead = consume_all(pipeline.config.bootstrap, names.dead_letter, expect=4)
    bodies = [orjson.loads(m.value) for m in dead]
    assert [b["topic"] for b in bodies] == [names.raw] * 4
    assert all(b["reason"] for b in bodies)
    codes = {base64.b64decode(b["key"]): b["code"] for b in bodies}
    assert codes == {b"k1": "event.not_json", b"k2": "event.schema",
                     b"k3": "event.seal_mismatch", b"k4": "event.schema"}  # fmt: skip
    assert {b["key"] for b in bodies} == {"azE=", "azI=", "azM=", "azQ="}  # base64 of k1..k4
    (one,) = [b for b in bodies if b["key"] == "azQ="]  # only the bad event of the run
    assert orjson.loads(base64.b64decode(one["value"])) == {"sequence": "x"}
    (forged,) = [b for b in bodies if b["key"] == "azM="]  # an event failing its seal check
    assert orjson.loads(base64.b64decode(forged["value"]))["sequence"] == 1
    assert "seal" in forged["reason"]


def _forged_run() -> bytes:
    """A raw message whose one event's payload was altered after it was sealed."""
    row = OutboxRow(1, {"event_id": "e"}, b'{"forged": true}', GENESIS_HASH, "0" * 64, 1, "p")
    return encode_raw([row], "p")
