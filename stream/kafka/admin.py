"""Topic creation at start-up (aiokafka admin client): idempotent, and refuses to run on
topics whose partition count would break per-principal order."""

import asyncio
import contextlib

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from evidence.core import EvidenceError
from stream.kafka.topology import TopicSpec, missing_topics, partition_mismatches

log = structlog.get_logger("fhir_evidence.kafka")


class KafkaUnavailable(EvidenceError):
    code = "kafka.unavailable"


class TopologyMismatch(EvidenceError):
    code = "kafka.topology_mismatch"


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...], timeout_s: float = 30.0)\
        -> list[str]:  # fmt: skip
    """Create what is missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except Exception as exc:
        await admin.close()
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}") from exc
    try:
        return await _ensure(admin, specs)
    finally:
        await admin.close()


async def _ensure(admin: AIOKafkaAdminClient, specs: tuple[TopicSpec, ...]) -> list[str]:
    described = await admin.describe_topics([spec.name for spec in specs])
    existing = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    problems = partition_mismatches(specs, existing)
    if problems:
        raise TopologyMismatch("; ".join(problems))
    todo = missing_topics(specs, set(existing))
    if not todo:
        return []
    brokers = len((await admin.describe_cluster())["brokers"])
    replication = min(3, max(1, brokers))
    new = [NewTopic(s.name, s.partitions, replication, topic_configs=s.configs) for s in todo]
    with contextlib.suppress(TopicAlreadyExistsError):  # another replica was first: fine
        await admin.create_topics(new, timeout_ms=15_000)
    created = [spec.name for spec in todo]
    log.info("kafka topics created", topics=created, replication=replication)
    return created
