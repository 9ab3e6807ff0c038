"""The routes' service groups, built from Settings and the components the runtime opened
(composition root): FHIR serving, exports, auditing (the evidence-query port on the
evidence store), the public documents and, while it is on, the development issuer. The app
keeps them as one `Services`, which hands each route the group it asks for by type."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from api.access.devissuer import DevIssuer
from api.access.guard import Guard
from api.audit.auditevent_search import SEARCH_PARAMS as AUDITEVENT_SEARCH_PARAMS
from api.audit.recorder import AlertActionRecorder, EventLog
from api.audit.serving import Auditing
from api.boot.checkpointing import retention_floor_us
from api.boot.keys import derived_key
from api.boot.stores import export_root
from api.data.port import FhirData
from api.fhir.discovery import SOFTWARE_VERSION, capability_statement, smart_configuration
from api.fhir.export_jobs import ExportJobs
from api.fhir.export_store import JobStore
from api.fhir.serving import Discovery, Exporting, FhirServing
from api.security.idp_metadata import IssuerMetadata
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from evidence.store.queries import StoreQueries
from evidence.store.seal.signing import verifiers

__all__ = ["ServiceParts", "Services", "build_services"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    """Every group, as the app keeps them (`api.http.deps.Provider`)."""

    guard: Guard
    fhir: FhirServing
    exporting: Exporting
    auditing: Auditing
    discovery: Discovery
    dev_issuer: DevIssuer | None  # on only while no trusted issuer is configured
    max_body_bytes: int

    def provide(self, kind: type[T]) -> T:
        found = self.provide_optional(kind)
        if found is None:
            raise LookupError(f"no {kind.__name__} is provided")
        return found

    def provide_optional(self, kind: type[T]) -> T | None:
        for group in (self.fhir, self.guard, self.auditing, self.exporting, self.discovery,
                      self.dev_issuer):  # fmt: skip
            if isinstance(group, kind):
                return group
        return None


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
    fhir = FhirServing(
        parts.data, parts.guard, cursor_key, redactions, settings.fhir_base, clock,
        blocking_data=settings.upstream_fhir_url is not None,
    )  # fmt: skip
    root = export_root(settings)
    jobs = ExportJobs(JobStore(root), parts.data, clock) if root is not None else None
    dev = DevIssuer(settings, parts.dev_jwks) if parts.dev_jwks is not None else None
    return Services(
        guard=parts.guard,
        fhir=fhir,
        exporting=Exporting(jobs, settings.base_url),
        auditing=_auditing(parts, cursor_key, clock),
        discovery=Discovery(
            capability_statement(
                settings, SOFTWARE_VERSION, AUDITEVENT_SEARCH_PARAMS, _discovered(parts)
            ),
            smart_configuration(settings, _discovered(parts)),
        ),
        dev_issuer=dev,
        max_body_bytes=settings.max_body_bytes,
    )


def _discovered(parts: ServiceParts) -> IssuerMetadata | None:
    """What discovery told about the first trusted issuer (the one SMART apps are sent to)."""
    issuers = parts.settings.trusted_issuers
    return parts.guard.issuer_metadata(issuers[0].issuer) if issuers else None


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
