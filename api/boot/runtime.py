"""The embedded runtime: every component built from Settings (composition root)."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from api.access.devissuer import load_or_create_key, public_jwks
from api.access.guard import Guard
from api.access.introspector import Introspector
from api.access.issuers import IssuerKeys, issuer_keys_for, keys_from_jwks
from api.boot.alerting import Alerting, build_step
from api.boot.checkpointing import build_checkpoint_runner, checkpoint_jwks, checkpoint_signer
from api.boot.health import PipelineHealth, serve_health, terminate_process
from api.boot.keys import HASH_KEY_VERSION, derived_key, hash_key
from api.boot.services import ServiceParts, Services, build_services
from api.boot.stores import open_evidence, open_fhir_data
from api.data.port import FhirData
from api.data.synthetic.dataset import generate_dataset
from api.security.tokens import TokenPolicy
from api.settings import Settings
from evidence.core import AccessEvent, Decision, Pseudonymizer
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from evidence.store.seal.checkpointer import CheckpointRunner
from stream.inline import InlineProcessor
from stream.outbox import OutboxReader, OutboxWriter
from stream.outbox_retention import OutboxRetention

if TYPE_CHECKING:  # faust and aiokafka are imported only when Kafka is configured
    from stream.kafka.app import WorkerHost
    from stream.kafka.relay import OutboxRelay

log = structlog.get_logger("fhir_evidence.runtime")
DEMO_PATIENTS = 200
DEMO_SEED = 42


@dataclass
class Runtime:
    services: Services
    outbox: OutboxWriter
    store: EvidenceStore
    processor: InlineProcessor | None
    owns_store: bool = True  # a store handed in by the caller is the caller's to close
    alerting: Alerting | None = None
    relay: "OutboxRelay | None" = None  # distributed: outbox → Kafka
    workers: "WorkerHost | None" = None  # distributed: faust agents in this process
    checkpoints: CheckpointRunner | None = None  # embedded: signed Merkle checkpoints
    pipeline: "PipelineHealth | None" = None  # readiness checks, watchdog, stall watches
    on_fatal: Callable[[int], None] = terminate_process  # a pipeline task cannot go on
    settings: Settings | None = None  # what the HTTP app reads (opt-in endpoints)
    text_key: bytes = b""  # keys the hashed forms of caller text in evidence

    def start(self) -> None:
        if self.alerting is not None:
            self.alerting.start()
        if self.processor is not None:
            self.processor.start()
        if self.checkpoints is not None:
            self.checkpoints.start()
        if self.workers is not None:
            self.workers.start()
        if self.relay is not None:
            self.relay.start()
        if self.pipeline is not None:
            self.pipeline.start(self.on_fatal)

    def failing(self) -> list[str]:
        """The readiness checks that do not hold (cached state: cheap)."""
        return [] if self.pipeline is None else self.pipeline.health.failing()

    @property
    def exit_code(self) -> int | None:
        """Set when a fatal pipeline failure ended the process."""
        return None if self.pipeline is None else self.pipeline.exit_code

    def pipeline_lag(self) -> int:
        """Outbox events this process's pipeline (inline processor or relay) has not taken."""
        taker = self.processor or self.relay
        return 0 if taker is None else max(0, self.outbox.last_sequence - taker.position)

    async def announce(self, clock_us: Callable[[], int]) -> None:
        """Evidence of what changed in the product itself: when the detection rules in force
        differ from the last run, one event says so (chained like every other)."""
        if self.alerting is None or not self.alerting.detector.rules_changed:
            return
        fingerprint = self.alerting.detector.fingerprint
        await self.outbox.append(rules_changed_event(fingerprint, clock_us()))
        self.alerting.detector.rules_recorded()

    def stop(self, drain_timeout: float = 20.0) -> None:
        """Drain the outbox into the evidence store, then close everything."""
        if self.pipeline is not None:
            self.pipeline.stop()  # first: the tasks' ending below is no failure
        if self.processor is not None:
            drained = self.processor.drain(drain_timeout)
            self.processor.stop()
            log.info("processor stopped", drained=drained, position=self.processor.position)
        if self.checkpoints is not None:
            self.checkpoints.stop()  # one last pass seals what was just drained
        if self.relay is not None:
            drained = self.relay.drain(drain_timeout)
            self.relay.stop()
            log.info("relay stopped", drained=drained, position=self.relay.position)
        if self.workers is not None:
            self.workers.stop(drain_timeout)
        if self.alerting is not None:
            self.alerting.stop()
        self.outbox.close()
        self.services.fhir.data.close()
        if self.owns_store:
            self.store.close()


def rules_changed_event(fingerprint: str, ts_us: int) -> AccessEvent:
    """The event saying which detection rules are in force from now on."""
    return AccessEvent(
        event_id=uuid.uuid4().hex, request_id=uuid.uuid4().hex, trace_id="",
        ts_us=ts_us, method="INTERNAL", route="internal", action="detection.rules",
        resource_type="", decision=Decision.ALLOW, status=200,
        reasons=("rules.changed",), sub="system:fhir-evidence",
        policy_version=f"detection:{fingerprint}",
    )  # fmt: skip


def load_demo_data(repository: FhirData, patients: int, seed: int) -> int:
    resources = generate_dataset(patients=patients, seed=seed)
    return repository.save_many(resources, _now_iso())


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _dev_issuer(settings: Settings, guard_keys: IssuerKeys) -> dict[str, object] | None:
    if not settings.dev_issuer_enabled:
        return None
    jwks = public_jwks(load_or_create_key(settings.data_dir))
    guard_keys.add_static(settings.dev_issuer_url, settings.fhir_base, keys_from_jwks(jwks))
    log.warning(
        "development issuer enabled: tokens minted by `fhir-evidence token` are "
        "trusted; configure FHIR_EVIDENCE_TRUSTED_ISSUERS for production",
        unsafe_dev_mode=settings.dev_mode,
    )
    return jwks


def build_runtime(
    settings: Settings,
    demo_data: bool = True,
    store: EvidenceStore | None = None,
    inline: bool = True,
    role: str = "all",
    outbox_name: str = "outbox.sqlite",
) -> Runtime:
    """`role`: "all" runs every part this process can (the API and, with Kafka, the relay
    and the stream workers); "api" leaves the stream workers to `fhir-evidence worker`.
    `outbox_name`: this process's outbox in the data dir (one per API process)."""
    keys = issuer_keys_for(settings)  # first: DiscoveryFailed before anything is opened
    repository = open_fhir_data(settings)
    if demo_data and not settings.upstream_fhir_url and repository.is_empty():  # never upstream
        resources = generate_dataset(patients=DEMO_PATIENTS, seed=DEMO_SEED)
        count = repository.load_into_empty(resources, _now_iso())
        if count:
            log.info("demo data loaded", resources=count)
    master = hash_key(settings)
    pseudonymizer = Pseudonymizer(master, HASH_KEY_VERSION)
    dev_jwks = _dev_issuer(settings, keys)
    policy = TokenPolicy(settings.max_token_lifetime_s, settings.token_leeway_s)
    rate = (settings.rate_limit_per_s, settings.rate_limit_burst)
    introspector = (
        Introspector(keys, settings.trusted_issuers)
        if any(i.introspection != "off" for i in settings.trusted_issuers)
        else None
    )
    guard = Guard(
        keys, policy, repository, rate=rate, introspector=introspector,
        introspection_cache_s=settings.introspection_cache_s,
    )  # fmt: skip
    outbox_path = settings.data_dir / outbox_name
    outbox = OutboxWriter(
        outbox_path, lambda e: evidence_payload(e, pseudonymizer), HASH_KEY_VERSION
    )
    owns_store = store is None
    store = store or open_evidence(settings)
    signer = checkpoint_signer(settings)
    processor = alerting = relay = workers = checkpoints = None
    if settings.kafka_bootstrap:
        from api.boot.kafka import build_relay, build_workers

        relay = build_relay(settings, outbox_path, outbox.wait_for_commit)
        if role == "api" and not settings.clickhouse_url:
            log.warning("--role api with the embedded evidence store: the workers elsewhere "
                        "cannot write it; set FHIR_EVIDENCE_CLICKHOUSE_URL")  # fmt: skip
        if role == "all":
            workers, alerting = build_workers(settings, store, pseudonymizer)
    elif inline:
        step, alerting = build_step(settings, store, pseudonymizer, "inline")
        reader = OutboxReader(outbox_path, "inline-processor")
        processor = InlineProcessor(reader, step, outbox.wait_for_commit)
        processor.retention = OutboxRetention(outbox_path, settings.outbox_retention_s)
        checkpoints = build_checkpoint_runner(settings, store, signer)
    services = build_services(ServiceParts(
        settings, repository, guard, store, pseudonymizer, master, outbox,
        checkpoint_jwks(settings, signer), dev_jwks,
        # the detector runs here: suppressions take effect at once
        alerting.detector.actions_changed if alerting is not None else None,
    ))  # fmt: skip
    runtime = Runtime(
        services, outbox, store, processor, owns_store, alerting, relay, workers, checkpoints
    )
    runtime.pipeline = serve_health(runtime, settings)
    runtime.settings = settings
    runtime.text_key = derived_key(master, "evidence/caller-text")
    return runtime
