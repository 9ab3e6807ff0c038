"""Composition of the distributed pipeline (FHIR_EVIDENCE_KAFKA_BOOTSTRAP set): the outbox
relay for API processes and the faust-streaming workers, built from Settings."""

import time
from pathlib import Path
from typing import cast

from api.boot.alerting import Alerting, build_alerting
from api.boot.checkpointing import build_checkpointer, checkpoint_signer
from api.boot.keys import HASH_KEY_VERSION
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from stream.alerting.webhook import WebhookDeliverer
from stream.kafka.agents import AlertOutbox
from stream.kafka.app import WorkerConfig, WorkerHost, build_faust_app
from stream.kafka.relay import OutboxRelay, WaitForCommit, kafka_relay
from stream.kafka.topology import TopicNames
from stream.outbox import OutboxReader
from stream.workers import EvidenceSink, RawConverter

RELAY_CONSUMER = "kafka-relay"


def build_relay(
    settings: Settings, outbox_path: Path, wait_for_commit: WaitForCommit
) -> OutboxRelay:
    if not settings.kafka_bootstrap:
        raise ValueError("the relay needs FHIR_EVIDENCE_KAFKA_BOOTSTRAP")
    reader = OutboxReader(outbox_path, RELAY_CONSUMER)
    names = TopicNames(settings.kafka_topic_prefix)
    return kafka_relay(reader, wait_for_commit, settings.kafka_bootstrap, names,
                       settings.kafka_partitions)  # fmt: skip


class AlertFanout:
    """What the detector delivers to: the webhook queue and the `fhir.alerts` topic."""

    enabled = True

    def __init__(self, webhook: WebhookDeliverer, topic: AlertOutbox) -> None:
        self._webhook, self._topic = webhook, topic

    def enqueue(self, key: str, body: bytes) -> None:
        if self._webhook.enabled:
            self._webhook.enqueue(key, body)
        self._topic.put(key.split(":", 1)[0].encode(), body)


def build_workers(
    settings: Settings, store: EvidenceStore, pseudonymizer: Pseudonymizer
) -> tuple[WorkerHost, Alerting]:
    if not settings.kafka_bootstrap:
        raise ValueError("the stream workers need FHIR_EVIDENCE_KAFKA_BOOTSTRAP")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    alerting = build_alerting(settings, store, pseudonymizer, enrich_in_detector=False)
    alerts = AlertOutbox()
    alerting.detector.use_deliverer(cast(WebhookDeliverer, AlertFanout(alerting.deliverer, alerts)))
    # Enrichment before pseudonymisation reads the FHIR store of the data dir (the API's, or
    # a copy of it for workers elsewhere: `fhir-evidence seed` loads the demo data).
    converter = RawConverter({HASH_KEY_VERSION: pseudonymizer}, alerting.enrichment)
    sink = EvidenceSink(store, alerting.detector.observe)
    config = WorkerConfig(
        settings.kafka_bootstrap, settings.kafka_partitions,
        settings.kafka_group, settings.kafka_topic_prefix, settings.worker_metrics_interval_s,
    )  # fmt: skip
    checkpointer = build_checkpointer(settings, store, checkpoint_signer(settings))

    def seal_checkpoints() -> None:  # a faust timer on the group leader only: one chain
        checkpointer.run_once(time.time_ns() // 1000)

    timers = ((settings.checkpoint_interval_s, seal_checkpoints),)
    host = WorkerHost(
        config, lambda: build_faust_app(config, converter, sink, alerts, timers), sink
    )
    return host, alerting
