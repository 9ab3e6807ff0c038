"""The routes' service groups, built from Settings and the components the runtime opened
(composition root): FHIR serving, exports, auditing (the evidence-query port on the
evidence store), the public documents and, while it is on, the development issuer."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.access.devissuer import DevIssuer
from api.access.guard import Guard
from api.audit.recorder import AlertActionRecorder, EventLog
from api.boot.checkpointing import retention_floor_us
from api.boot.keys import derived_key
from api.data.port import FhirData
from api.fhir.discovery import SOFTWARE_VERSION, capability_statement, smart_configuration
from api.fhir.export_jobs import ExportJobs, JobStore
from api.http.services import Auditing, Discovery, Exporting, FhirServing, Services
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from evidence.store.queries import StoreQueries
from evidence.store.seal.signing import verifiers

__all__ = ["ServiceParts", "build_services"]


@dataclass(frozen=True, slots=True)
class ServiceParts:
    """What the runtime opened and the routes share."""

    settings: Settings
    data: FhirData
    guard: Guard
    store: EvidenceStore
    pseudonymizer: Pseudonymizer
    master_key: bytes
    events: EventLog  # the audit outbox (alert actions append their chained events)
    checkpoint_jwks: dict[str, Any]
    dev_jwks: dict[str, Any] | None = None
    alert_actions_changed: Callable[[], None] | None = None  # the detector, when it runs here


def build_services(parts: ServiceParts, clock: Callable[[], float] = time.time) -> Services:
    settings = parts.settings
    cursor_key = derived_key(parts.master_key, "cursor/v1")
    redactions = {rtype: tuple(fields) for rtype, fields in settings.redactions.items()}
    fhir = FhirServing(parts.data, parts.guard, cursor_key, redactions, settings.fhir_base, clock)
    jobs = ExportJobs(JobStore(settings.data_dir / "exports"), parts.data, clock)
    dev = DevIssuer(settings, parts.dev_jwks) if parts.dev_jwks is not None else None
    return Services(
        guard=parts.guard,
        fhir=fhir,
        exporting=Exporting(jobs, settings.base_url),
        auditing=_auditing(parts, cursor_key, clock),
        discovery=Discovery(
            capability_statement(settings, SOFTWARE_VERSION), smart_configuration(settings)
        ),
        dev_issuer=dev,
        max_body_bytes=settings.max_body_bytes,
    )


def _auditing(parts: ServiceParts, cursor_key: bytes, clock: Callable[[], float]) -> Auditing:
    settings = parts.settings

    def floor_us() -> int:
        return retention_floor_us(settings, int(clock() * 1_000_000))

    evidence = StoreQueries(parts.store, verifiers(parts.checkpoint_jwks), floor_us)
    recorder = AlertActionRecorder(parts.events, evidence, parts.alert_actions_changed)
    return Auditing(
        parts.guard,
        evidence,
        parts.pseudonymizer,
        recorder,
        parts.checkpoint_jwks,
        cursor_key,
        settings.base_url,
        clock,
    )
