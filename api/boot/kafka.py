"""Composition of the distributed pipeline (FHIR_EVIDENCE_KAFKA_BOOTSTRAP set): the outbox
relay for API processes and the faust-streaming worker that drives the stream step."""

import asyncio
import time
from pathlib import Path
from typing import Any

import structlog

from api.boot.alerting import Alerting, build_step
from api.boot.checkpointing import build_checkpointer, checkpoint_signer
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from stream.kafka.agents import AlertOutbox
from stream.kafka.app import BrokerHeartbeat, WorkerConfig, WorkerHost, build_faust_app
from stream.kafka.lag import LagMonitor
from stream.kafka.relay import OutboxRelay, WaitForCommit, kafka_relay
from stream.kafka.topology import TopicNames
from stream.outbox import OutboxReader
from stream.outbox_retention import OutboxRetention

RELAY_CONSUMER = "kafka-relay"
log = structlog.get_logger("fhir_evidence.kafka")


def build_relay(
    settings: Settings, outbox_path: Path, wait_for_commit: WaitForCommit
) -> OutboxRelay:
    if not settings.kafka_bootstrap:
        raise ValueError("the relay needs FHIR_EVIDENCE_KAFKA_BOOTSTRAP")
    reader = OutboxReader(outbox_path, RELAY_CONSUMER)
    names = TopicNames(settings.kafka_topic_prefix)
    relay = kafka_relay(reader, wait_for_commit, settings.kafka_bootstrap, names,
                        settings.kafka_partitions)  # fmt: skip
    relay.retention = OutboxRetention(outbox_path, settings.outbox_retention_s)
    return relay


def build_workers(
    settings: Settings, store: EvidenceStore, pseudonymizer: Pseudonymizer
) -> tuple[WorkerHost, Alerting]:
    """The faust agent driving the stream step, with checkpoints sealed on the group
    leader. Enrichment reads the FHIR data of the settings (the API's store, or for
    workers elsewhere a copy of it: `fhir-evidence seed` loads the demo data)."""
    if not settings.kafka_bootstrap:
        raise ValueError("the stream workers need FHIR_EVIDENCE_KAFKA_BOOTSTRAP")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    alerts = AlertOutbox()
    step, alerting = build_step(settings, store, pseudonymizer, "kafka", alert_sinks=(alerts,))
    config = WorkerConfig(
        settings.kafka_bootstrap, settings.kafka_partitions,
        settings.kafka_group, settings.kafka_topic_prefix, settings.worker_metrics_interval_s,
    )  # fmt: skip
    checkpointer = build_checkpointer(settings, store, checkpoint_signer(settings))

    def seal_checkpoints() -> None:  # a faust timer on the group leader only: one chain
        checkpointer.run_once(time.time_ns() // 1000)

    timers = ((settings.checkpoint_interval_s, seal_checkpoints),)
    heartbeat = BrokerHeartbeat(settings.kafka_bootstrap)
    monitor = LagMonitor((config.names.raw,))

    def make_app() -> Any:
        return build_faust_app(config, step, alerts, timers, heartbeat=heartbeat,
                               lag_monitor=monitor)  # fmt: skip

    host = WorkerHost(config, make_app, step, heartbeat, monitor)
    return host, alerting


def check_topics(settings: Settings, timeout_s: float = 15.0) -> None:
    """At start-up, before serving: create the topics, or raise TopologyMismatch (fatal)
    when one exists with the wrong shape. A broker not reachable yet is no error here:
    the relay and the workers keep trying (and /readyz says `kafka`)."""
    from stream.kafka.admin import KafkaUnavailable, ensure_topics
    from stream.kafka.topology import topology

    if not settings.kafka_bootstrap:
        return
    specs = topology(settings.kafka_partitions, names=TopicNames(settings.kafka_topic_prefix))
    try:
        asyncio.run(ensure_topics(settings.kafka_bootstrap, specs, timeout_s))
    except KafkaUnavailable as exc:
        log.warning("kafka not reachable at start-up; the pipeline keeps trying", error=str(exc))
