"""Topic creation at start-up (aiokafka admin client): idempotent, correct on a stock broker
(`auto.create.topics.enable=true`), and fatal on topics of the wrong shape.

No request here may let the broker auto-create a topic: aiokafka's MetadataRequest asks for
auto-creation of every topic it names unless told otherwise (`allow_auto_topic_creation`
defaults to true from v4 on, and `describe_topics` names them), so existing topics are read
with one metadata request that names them and refuses auto-creation. Missing topics are
then created with their partitions and configs; "kafka topics created" names only those the
broker answered as created.
"""

import asyncio
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.protocol.metadata import MetadataRequest

from evidence.core import EvidenceError
from stream.kafka.topology import TopicSpec, TopicState, missing_topics, topic_problems

log = structlog.get_logger("fhir_evidence.kafka")
UNKNOWN_TOPIC, TOPIC_EXISTS = 3, 36  # Kafka error codes


class KafkaUnavailable(EvidenceError):
    code = "kafka.unavailable"


class TopologyMismatch(EvidenceError):
    """An existing topic has the wrong shape: fatal at start-up (the process exits)."""

    code = "kafka.topology_mismatch"


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...], timeout_s: float = 30.0)\
        -> list[str]:  # fmt: skip
    """Create what is missing; returns the names created. TopologyMismatch when a topic
    exists with another shape; KafkaUnavailable when the broker cannot be asked."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except Exception as exc:
        await admin.close()
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}") from exc
    try:
        return await asyncio.wait_for(_ensure(admin, specs, bootstrap), timeout_s)
    except (TopologyMismatch, KafkaUnavailable):
        raise
    except Exception as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer the topic set-up") from exc
    finally:
        await admin.close()


async def _ensure(admin: AIOKafkaAdminClient, specs: tuple[TopicSpec, ...], bootstrap: str)\
        -> list[str]:  # fmt: skip
    existing = await _existing(admin, specs)
    problems = topic_problems(specs, existing, bootstrap)
    if problems:
        raise TopologyMismatch("; ".join(str(p) for p in problems))
    todo = missing_topics(specs, set(existing))
    if not todo:
        return []
    brokers = len((await admin.describe_cluster())["brokers"])  # names no topic
    replication = min(3, max(1, brokers))
    new = [NewTopic(s.name, s.partitions, replication, topic_configs=s.configs) for s in todo]
    response = await admin.create_topics(new, timeout_ms=15_000)
    created, raced = _created(response)
    if created:
        log.info("kafka topics created", topics=created, replication=replication)
    if raced:  # another replica created them meanwhile: check what it created
        again = await _existing(admin, specs)
        problems = topic_problems(specs, again, bootstrap)
        if problems:
            raise TopologyMismatch("; ".join(str(p) for p in problems))
    return created


def _created(response: Any) -> tuple[list[str], list[str]]:
    """(topics created, topics that existed already); any other error is raised."""
    created, raced = [], []
    for entry in response.topic_errors:
        topic, code = entry[0], entry[1]
        if code == 0:
            created.append(topic)
        elif code == TOPIC_EXISTS:
            raced.append(topic)
        else:
            raise KafkaUnavailable(f"creating {topic} failed with Kafka error {code}")
    return created, raced


async def _existing(admin: AIOKafkaAdminClient, specs: tuple[TopicSpec, ...])\
        -> dict[str, TopicState]:  # fmt: skip
    """The topology's topics the broker holds, never creating one."""
    request = MetadataRequest([s.name for s in specs], allow_auto_topic_creation=False)
    metadata = (await admin._send_request(request)).to_object()
    partitions = {t["topic"]: len(t["partitions"]) for t in metadata["topics"]
                  if t["error_code"] == 0}  # fmt: skip
    for t in metadata["topics"]:
        if t["error_code"] not in (0, UNKNOWN_TOPIC):
            raise KafkaUnavailable(f"metadata of {t['topic']}: Kafka error {t['error_code']}")
    if not partitions:
        return {}
    configs = await _configs(admin, sorted(partitions))
    return {name: TopicState(n, configs.get(name, {})) for name, n in partitions.items()}


async def _configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
    found: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            error, name, entries = resource[0], resource[3], resource[4]
            if error != 0:
                raise KafkaUnavailable(f"configs of {name}: Kafka error {error}")
            found[name] = _values(entries)
    return found


def _values(entries: Any) -> dict[str, str]:
    return {entry[0]: entry[1] for entry in entries if entry[1] is not None}
