"""Topology (pure) and topic creation on the real broker."""

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.kafka.admin import TopologyMismatch, ensure_topics
from stream.kafka.topology import (
    DAY_MS,
    TopicNames,
    TopicState,
    missing_topics,
    partition_mismatches,
    topic_problems,
    topology,
)


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


def test_topic_problems_name_the_topic_what_is_wrong_and_the_fix() -> None:
    specs = topology(6)
    raw, alerts, dead = specs
    right = {s.name: TopicState(s.partitions, dict(s.configs)) for s in specs}
    assert topic_problems(specs, right, "k:9092") == []
    assert topic_problems(specs, {}, "k:9092") == []  # missing: start-up creates them
    auto = {raw.name: TopicState(3, {**raw.configs, "retention.ms": "604800000"}),
            dead.name: TopicState(3, {})}  # fmt: skip
    problems = topic_problems(specs, auto, "k:9092")
    assert [(p.topic, p.found) for p in problems] == [
        (raw.name, "3 partitions, expected 6"),
        (raw.name, "configs retention.ms=604800000, expected retention.ms=259200000"),
        (dead.name, "3 partitions, expected 1"),
        (dead.name, "configs " + ", ".join(f"{k}=(broker default)" for k in dead.configs)
         + ", expected " + ",".join(f"{k}={v}" for k, v in dead.configs.items())),
    ]  # fmt: skip
    assert "FHIR_EVIDENCE_KAFKA_PARTITIONS=3" in problems[0].fix
    assert "--delete --topic fhir.access.raw" in problems[0].fix
    assert "FHIR_EVIDENCE_KAFKA_PARTITIONS" not in problems[2].fix  # one partition, always
    assert problems[1].fix == ("kafka-configs.sh --bootstrap-server k:9092 --alter --entity-type"
                               " topics --entity-name fhir.access.raw --add-config"
                               " retention.ms=259200000")  # fmt: skip
    assert str(problems[0]).startswith("fhir.access.raw: 3 partitions, expected 6; fix: ")
    assert alerts.name not in {p.topic for p in problems}


@pytest.mark.kafka
def test_nothing_is_auto_created_by_the_set_up_on_a_stock_broker(kafka_bootstrap: str) -> None:
    """The broker auto-creates topics a metadata request names (3 partitions): the set-up's
    own requests must not, so a mismatch found leaves the missing topics missing."""
    names = TopicNames(f"auto{uuid.uuid4().hex[:6]}.")

    async def scenario() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(names.raw, 3, 1)])
            with pytest.raises(TopologyMismatch):
                await ensure_topics(kafka_bootstrap, topology(6, names=names))
            return [t for t in await admin.list_topics() if t.startswith(names.prefix)]
        finally:
            await admin.close()

    assert asyncio.run(scenario()) == [names.raw]
