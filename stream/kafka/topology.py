"""The Kafka topology of the distributed runtime, as plain data (no faust import here).

The raw topic is keyed by principal, so one principal's events stay in one partition, in
order, from the relay to the agent that runs the stream step: that is what the detection
rules need. The alerts topic is keyed by alert id.
"""

from collections.abc import Mapping
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
    follows_setting: bool = True  # partitions = FHIR_EVIDENCE_KAFKA_PARTITIONS (keyed topics)


@dataclass(frozen=True, slots=True)
class TopicState:
    """What the broker holds of one topic: its partition count and its explicit configs."""

    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicProblem:
    """An existing topic start-up cannot use as it is, with what an operator does about it."""

    topic: str
    found: str
    fix: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.found}; fix: {self.fix}"


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
        TopicSpec(names.dead_letter, 1, {**durable, "retention.ms": str(30 * DAY_MS)}, False),
    )


def missing_topics(specs: tuple[TopicSpec, ...], existing: set[str]) -> list[TopicSpec]:
    """What start-up still has to create (creation is idempotent: existing topics stay)."""
    return [spec for spec in specs if spec.name not in existing]


def partition_mismatches(specs: tuple[TopicSpec, ...], existing: Mapping[str, int]) -> list[str]:
    """Topics that exist with another partition count than the topology wants: the
    per-principal order would not hold across them, so start-up refuses to run."""
    return [
        f"{spec.name} has {existing[spec.name]} partitions, expected {spec.partitions}"
        for spec in specs
        if spec.name in existing and existing[spec.name] != spec.partitions
    ]


def topic_problems(
    specs: tuple[TopicSpec, ...], existing: Mapping[str, TopicState], bootstrap: str
) -> list[TopicProblem]:
    """Every existing topic of the topology whose shape differs from its spec: another
    partition count, or a config the spec sets holding another value (a topic a broker
    auto-created has the broker's defaults). Missing topics are not problems: start-up
    creates them."""
    problems = []
    for spec in specs:
        state = existing.get(spec.name)
        if state is None:
            continue
        if state.partitions != spec.partitions:
            problems.append(_partition_problem(spec, state.partitions, bootstrap))
        wrong = {k: v for k, v in spec.configs.items() if state.configs.get(k) != v}
        if wrong:
            found = ", ".join(f"{k}={state.configs.get(k, '(broker default)')}" for k in wrong)
            settings = ",".join(f"{k}={v}" for k, v in wrong.items())
            problems.append(TopicProblem(
                spec.name, f"configs {found}, expected {settings}",
                f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics"
                f" --entity-name {spec.name} --add-config {settings}",
            ))  # fmt: skip
    return problems


def _partition_problem(spec: TopicSpec, found: int, bootstrap: str) -> TopicProblem:
    delete = (
        f"kafka-topics.sh --bootstrap-server {bootstrap} --delete --topic {spec.name}"
        " (only if nothing in it is still needed), then start again: fhir-evidence creates it"
    )
    fix = f"set FHIR_EVIDENCE_KAFKA_PARTITIONS={found}, or {delete}" if spec.follows_setting \
        else delete  # fmt: skip
    return TopicProblem(spec.name, f"{found} partitions, expected {spec.partitions}", fix)
