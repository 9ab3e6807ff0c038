"""Composition of detection and alert delivery for the embedded runtime: the detector that
runs after each stored evidence batch, its enrichment from the FHIR store, the webhook."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.data.facts import ContextLookup
from api.data.sqlite.repository import ResourceRepository
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from stream.alerting.detector import Detector
from stream.alerting.webhook import WebhookDeliverer, WebhookQueue
from stream.detection import DetectionConfig
from stream.enrich import enrich


@dataclass
class Alerting:
    detector: Detector
    deliverer: WebhookDeliverer
    queue: WebhookQueue
    lookup_repository: ResourceRepository
    enrichment: Callable[[dict[str, Any]], dict[str, Any]]  # raw event -> detection facts

    def start(self) -> None:
        self.deliverer.start()

    def stop(self) -> None:
        self.detector.persist()
        self.deliverer.stop()
        self.queue.close()
        self.lookup_repository.close()


def _already_enriched(enrichment: dict[str, Any]) -> dict[str, Any]:
    return enrichment


def build_alerting(
    settings: Settings,
    store: EvidenceStore,
    pseudonymizer: Pseudonymizer,
    enrich_in_detector: bool = True,
) -> Alerting:
    """`enrich_in_detector=False`: the detector is handed enrichments, not raw events (the
    Kafka workers enrich before pseudonymising, in the pseudonymise agent)."""
    # The processor thread reads patient facts through its own connection.
    repository = ResourceRepository(settings.data_dir / "fhir.sqlite")
    lookup = ContextLookup(repository)

    def enrichment(raw: dict[str, Any]) -> dict[str, Any]:
        return enrich(raw, lookup.patient_facts, lookup.principal_family, pseudonymizer)

    queue = WebhookQueue(settings.data_dir / "webhook.sqlite")
    deliverer = WebhookDeliverer(queue, settings.alert_webhook_url, settings.alert_webhook_secret)
    config = DetectionConfig.from_mapping(settings.detection)
    detector = Detector(
        store, config, deliverer, enrichment if enrich_in_detector else _already_enriched
    )
    return Alerting(detector, deliverer, queue, repository, enrichment)
