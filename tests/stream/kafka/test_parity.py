"""Parity of the two drivers of the stream step: the same recorded events through the inline
runtime and through the Kafka runtime (a real broker, the faust agent, both composed as
`serve` composes them) give identical evidence rows, alerts and checkpoint roots, apart
from the times they carry (when a row was stored, when a checkpoint was signed).

The traffic is made to raise every kind of alert the enrichment and the event rules can
see: a denied burst, a bulk access spike, break-glass reads, a VIP record read outside a
treating relationship, a bulk export, among ordinary reads by several principals.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.boot.alerting import Alerting, build_step
from api.boot.kafka import build_workers
from api.boot.stores import open_fhir_data
from api.data.facts import FLAG_SYSTEM
from api.settings import Settings
from evidence.core import AccessEvent, Decision
from evidence.core.verify import verify_chain
from evidence.store import EvidenceStore
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed
from stream.inline import InlineProcessor
from stream.kafka.relay import kafka_relay
from stream.kafka.topology import TopicNames
from stream.outbox import OutboxReader, OutboxWriter
from tests.evidence.builders import KEY, PSEUDONYMIZER, make_event
from tests.stream.kafka.kafka_support import open_writer, stored_counts
from tests.support import wait_for

pytestmark = pytest.mark.kafka
HOUR_US = 3_600_000_000
START_US = int(time.time()) // 3600 * HOUR_US - 3 * HOUR_US  # recent: inside the TTL
EVERYTHING = (0, 2**62)
KINDS = {"denied_burst", "bulk_access_spike", "break_glass", "vip_access", "export"}


def recorded_events() -> list[AccessEvent]:
    """A few minutes of traffic, in the order the API would have appended it."""
    events: list[tuple[int, dict[str, Any]]] = []
    for i in range(25):  # a scanner refused again and again within a minute
        events.append((i * 2_000_000, dict(
            sub="scanner", decision=Decision.DENY, status=403, reasons=("scope.insufficient",),
            patient_ids=(), resource_ids=(), count_returned=0,
        )))  # fmt: skip
    for i in range(130):  # one practitioner touching 130 patients in two minutes
        events.append((i * 900_000, dict(sub="dr-bulk", patient_ids=(f"bulk-{i}",))))
    for i in range(2):  # break-glass
        events.append((60_000_000 + i * 1000, dict(
            sub="dr-glass", purpose_of_use="ETREAT", reasons=("scope.granted", "break_glass"),
            patient_ids=("pat-0003",),
        )))  # fmt: skip
    events.append((70_000_000, dict(sub="dr-curious", reasons=("scope.granted",),
                                    patient_ids=("pat-vip",))))  # fmt: skip
    events.append((80_000_000, dict(sub="svc-etl", action="export", status=202,
                                    route="/fhir/Patient/$export", patient_ids=())))  # fmt: skip
    for i in range(200):  # ordinary reads
        events.append((i * 700_000, dict(sub=("dr-alice", "dr-bob", "dr-carol")[i % 3],
                                         patient_ids=(f"pat-{i % 11:04d}",))))  # fmt: skip
    events.sort(key=lambda pair: pair[0])
    return [
        make_event(n, ts_us=START_US + offset, event_id=uuid.uuid4().hex, **fields)
        for n, (offset, fields) in enumerate(events, start=1)
    ]


@dataclass
class Side:
    settings: Settings
    store: EvidenceStore
    alerting: Alerting | None = None


def _settings(data_dir: Path, **extra: Any) -> Settings:
    settings = Settings(data_dir=data_dir, hash_key=KEY.decode(), checkpoint_interval_s=3600.0,
                        **extra)  # fmt: skip
    fhir = open_fhir_data(settings)  # the same patient facts on both sides: one VIP
    vip_tag = {"system": FLAG_SYSTEM, "code": "vip"}
    vip = {"resourceType": "Patient", "id": "pat-vip", "meta": {"tag": [vip_tag]},
           "name": [{"family": "Star"}]}  # fmt: skip
    fhir.save(vip, "2025-01-01T00:00:00Z")
    fhir.close()
    return settings


@pytest.fixture
def stores(chdb_client: object) -> Iterator[tuple[EvidenceStore, EvidenceStore]]:
    made = []
    for _ in range(2):
        store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
        store.apply_schema()
        made.append(store)
    yield made[0], made[1]
    for store in made:
        store.raw_command(f"DROP DATABASE IF EXISTS {store.database}")


def _run_inline(side: Side, outbox: Path, writer: OutboxWriter) -> None:
    step, side.alerting = build_step(side.settings, side.store, PSEUDONYMIZER, "inline")
    processor = InlineProcessor(OutboxReader(outbox, "inline-processor"), step,
                                writer.wait_for_commit, batch_size=97)  # fmt: skip
    while processor.process_available():
        pass
    side.alerting.detector.persist()


def _run_kafka(side: Side, outbox: Path, writer: OutboxWriter, expected: int) -> None:
    settings = side.settings
    assert settings.kafka_bootstrap is not None
    host, side.alerting = build_workers(settings, side.store, PSEUDONYMIZER)
    names = TopicNames(settings.kafka_topic_prefix)
    relay = kafka_relay(OutboxReader(outbox, "kafka-relay"), writer.wait_for_commit,
                        settings.kafka_bootstrap, names, settings.kafka_partitions)  # fmt: skip
    host.start()
    try:
        assert host.started.wait(90), "the stream workers did not start"
        relay.start()
        wait_for(lambda: stored_counts(side.store)[1] >= expected, timeout=120)
        wait_for(lambda: side.alerting is not None and _alerts(side.store), timeout=30)
        time.sleep(1.0)  # detection runs right after its batch is stored
    finally:
        relay.stop()
        host.stop()
    side.alerting.detector.persist()


def _rows(store: EvidenceStore) -> list[bytes]:
    """Every column but `stored_at`, the store's own clock at insert time."""
    rows = sorted(store.chain_rows(*EVERYTHING), key=lambda r: (r["producer_id"], r["sequence"]))
    return [orjson.dumps({k: v for k, v in row.items() if k != "stored_at"},
                         option=orjson.OPT_SORT_KEYS) for row in rows]  # fmt: skip


def _alerts(store: EvidenceStore) -> list[dict[str, Any]]:
    return sorted(store.alerts(0, 2**62, "", "", 1000), key=lambda a: str(a["alert_id"]))


def _roots(store: EvidenceStore) -> list[tuple[str, int, str, str]]:
    """Seal everything stored, then each producer's (size, root, head)."""
    checkpointer = Checkpointer(store, signer_from_seed(b"\x07" * 32))
    written = checkpointer.run_once(time.time_ns() // 1000)
    return sorted((c.checkpoint.producer_id, c.checkpoint.tree_size, c.checkpoint.root.hex(),
                   c.checkpoint.head) for c in written)  # fmt: skip


def test_inline_and_kafka_give_the_same_rows_alerts_and_checkpoint_roots(
    kafka_bootstrap: str, tmp_path: Path, stores: tuple[EvidenceStore, EvidenceStore]
) -> None:
    events = recorded_events()
    outbox = tmp_path / "outbox.sqlite"
    writer = open_writer(outbox)
    try:
        for event in events:
            _append(writer, event)
        tag = uuid.uuid4().hex[:8]
        inline = Side(_settings(tmp_path / "inline"), stores[0])
        kafka = Side(_settings(tmp_path / "kafka", kafka_bootstrap=kafka_bootstrap,
                               kafka_partitions=3, kafka_topic_prefix=f"p{tag}.",
                               kafka_group=f"parity-{tag}"), stores[1])  # fmt: skip
        try:
            _run_inline(inline, outbox, writer)
            _run_kafka(kafka, outbox, writer, len(events))
        finally:
            for side in (inline, kafka):
                if side.alerting is not None:
                    side.alerting.stop()
    finally:
        writer.close()

    assert stored_counts(inline.store)[1] == len(events)
    assert _rows(kafka.store) == _rows(inline.store)
    assert verify_chain(kafka.store.chain_rows(*EVERYTHING)).intact
    inline_alerts, kafka_alerts = _alerts(inline.store), _alerts(kafka.store)
    assert {a["kind"] for a in inline_alerts} >= KINDS
    assert kafka_alerts == inline_alerts  # their times are the events' own
    assert _roots(kafka.store) == _roots(inline.store) != []


def _append(writer: OutboxWriter, event: AccessEvent) -> None:
    import asyncio

    asyncio.run(writer.append(event))
