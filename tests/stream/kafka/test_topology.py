"""Topology (pure) and topic creation on the real broker."""

import asyncio
import uuid

import pytest

from stream.kafka.admin import TopologyMismatch, ensure_topics
from stream.kafka.topology import DAY_MS, TopicNames, missing_topics, partition_mismatches, topology


def test_keyed_topics_have_the_configured_partitions() -> None:
    specs = topology(8)
    keyed = [s for s in specs if not s.name.endswith("deadletter")]
    assert {s.partitions for s in keyed} == {8}
    assert [s.name for s in specs] == [
        "fhir.access.raw",
        "fhir.alerts",
        "fhir.access.deadletter",
    ]


def test_raw_identifiers_are_kept_briefly() -> None:
    raw = topology(raw_retention_ms=DAY_MS)[0]
    assert raw.configs["retention.ms"] == str(DAY_MS)
    assert all(int(s.configs["retention.ms"]) >= 7 * DAY_MS for s in topology()[1:])


def test_prefix_names_every_topic() -> None:
    names = TopicNames("tenant-a.")
    assert {s.name for s in topology(names=names)} == {
        names.raw,
        names.alerts,
        names.dead_letter,
    }
    assert names.raw == "tenant-a.fhir.access.raw"


def test_missing_and_mismatched() -> None:
    specs = topology(3)
    assert missing_topics(specs, {"fhir.access.raw"}) == list(specs[1:])
    assert partition_mismatches(specs, {"fhir.access.raw": 3, "fhir.alerts": 1}) == [
        "fhir.alerts has 1 partitions, expected 3"
    ]
    with pytest.raises(ValueError):
        topology(0)


@pytest.mark.kafka
def test_topic_creation_is_idempotent_and_refuses_other_partition_counts(
    kafka_bootstrap: str,
) -> None:
    names = TopicNames(f"topo{uuid.uuid4().hex[:6]}.")
    created = asyncio.run(ensure_topics(kafka_bootstrap, topology(3, names=names)))
    assert sorted(created) == sorted([names.raw, names.alerts, names.dead_letter])
    assert asyncio.run(ensure_topics(kafka_bootstrap, topology(3, names=names))) == []
    with pytest.raises(TopologyMismatch, match="expected 5"):
        asyncio.run(ensure_topics(kafka_bootstrap, topology(5, names=names)))
