"""The Kafka topology of the distributed runtime, as plain data (no faust import here).

The raw topic is keyed by principal, so one principal's events stay in one partition, in
order, from the relay to the agent that runs the stream step: that is what the detection
rules need. The alerts topic is keyed by alert id.
"""

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000

RAW_TOPIC = "fhir.access.raw"
ALERTS_TOPIC = "fhir.alerts"
DEAD_LETTER_TOPIC = "fhir.access.deadletter"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The topic names, with an optional prefix (several deployments on one cluster)."""

    prefix: str = ""

    @property
    def raw(self) -> str:
        return self.prefix + RAW_TOPIC

    @property
    def alerts(self) -> str:
        return self.prefix + ALERTS_TOPIC

    @property
    def dead_letter(self) -> str:
        return self.prefix + DEAD_LETTER_TOPIC


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def topology(
    partitions: int = 6, raw_retention_ms: int = 3 * DAY_MS, names: TopicNames = TopicNames()
) -> tuple[TopicSpec, ...]:
    """The topics and their configs. Raw events hold raw identifiers, so the raw topic keeps
    them only briefly (default three days: enough to ride out a worker outage). Alerts are
    pseudonymous; dead letters are parked raw messages (raw ids too) that an operator must
    look at: both are kept for thirty days."""
    if partitions < 1:
        raise ValueError("a topic needs at least one partition")
    durable = {"min.insync.replicas": "1", "cleanup.policy": "delete"}
    return (
        TopicSpec(names.raw, partitions, {**durable, "retention.ms": str(raw_retention_ms)}),
        TopicSpec(names.alerts, partitions, {**durable, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(names.dead_letter, 1, {**durable, "retention.ms": str(30 * DAY_MS)}),
    )


def missing_topics(specs: tuple[TopicSpec, ...], existing: set[str]) -> list[TopicSpec]:
    """What start-up still has to create (creation is idempotent: existing topics stay)."""
    return [spec for spec in specs if spec.name not in existing]


def partition_mismatches(specs: tuple[TopicSpec, ...], existing: dict[str, int]) -> list[str]:
    """Topics that exist with another partition count than the topology wants: the
    per-principal order would not hold across them, so start-up refuses to run."""
    return [
        f"{spec.name} has {existing[spec.name]} partitions, expected {spec.partitions}"
        for spec in specs
        if spec.name in existing and existing[spec.name] != spec.partitions
    ]
