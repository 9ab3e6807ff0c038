"""Composition of the stream step for either driver: the keys its seal check accepts, the
enrichment from the FHIR data, the detector that runs after each stored batch and the sinks
its alerts go to (the webhook queue; with Kafka, the alerts topic too)."""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.boot.stores import open_fhir_data
from api.data.facts import ContextLookup
from api.data.port import FhirData
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from evidence.store.alert_actions import active_suppressions
from stream.alerting.detector import AlertSink, Detector
from stream.alerting.webhook import WebhookDeliverer, WebhookQueue
from stream.detection import DetectionConfig
from stream.enrich import enrich
from stream.step import EvidenceStep


@dataclass
class Alerting:
    """What the step's detection needs to start and stop beside it."""

    detector: Detector
    deliverer: WebhookDeliverer
    queue: WebhookQueue
    facts: FhirData  # the step's own connection to the FHIR data (its own thread)

    def start(self) -> None:
        self.deliverer.start()

    def stop(self) -> None:
        self.detector.persist()
        self.deliverer.stop()
        self.queue.close()
        self.facts.close()


ENRICHMENT_TIMEOUT_S = 1.0  # gateway mode: the most one enrichment lookup waits for the upstream


def _enrichment_settings(settings: Settings) -> Settings:
    """The step's lookups wait at most ENRICHMENT_TIMEOUT_S for an upstream FHIR server
    (the evidence must not wait for a stalled upstream: api.data.facts pauses after it)."""
    if not settings.upstream_fhir_url:
        return settings
    bound = {
        "upstream_timeout_s": min(settings.upstream_timeout_s, ENRICHMENT_TIMEOUT_S),
        "upstream_connect_timeout_s": min(settings.upstream_connect_timeout_s,
                                          ENRICHMENT_TIMEOUT_S),
    }  # fmt: skip
    return settings.model_copy(update=bound)


def build_step(
    settings: Settings,
    store: EvidenceStore,
    pseudonymizer: Pseudonymizer,
    runtime: str,
    alert_sinks: Sequence[AlertSink] = (),
    clock: Callable[[], float] = time.time,
) -> tuple[EvidenceStep, Alerting]:
    """The stream step of `runtime` ("inline" or "kafka"), and its alerting to run beside
    it; `alert_sinks` are delivered to besides the webhook. `clock` is the detector's "now"
    (a replay passes the time of the history it feeds)."""
    facts = open_fhir_data(_enrichment_settings(settings))
    lookup = ContextLookup(facts)

    def enrichment(raw: Mapping[str, Any]) -> dict[str, Any]:
        return enrich(raw, lookup.patient_facts, lookup.principal_family, pseudonymizer)

    queue = WebhookQueue(settings.data_dir / "webhook.sqlite")
    deliverer = WebhookDeliverer(queue, settings.alert_webhook_url, settings.alert_webhook_secret)
    config = DetectionConfig.from_mapping(settings.detection)
    detector = Detector(
        store, config, lambda now_us: active_suppressions(store, now_us),
        sinks=(deliverer, *alert_sinks), clock=clock,
    )  # fmt: skip
    step = EvidenceStep(store, {pseudonymizer.key_version}, runtime, enrichment, detector)
    return step, Alerting(detector, deliverer, queue, facts)
