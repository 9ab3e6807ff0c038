"""What the routes are given, by capability: small frozen groups built once by the composition
root (`api.boot.services`) and handed to each route that asks for one (`api.http.deps`)."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.access.devissuer import DevIssuer
from api.access.guard import Guard
from api.audit.recorder import AlertActionRecorder
from api.data.port import FhirData
from api.fhir.export_jobs import ExportJobs
from evidence.core import Pseudonymizer
from evidence.core.queries import EvidenceQueries

__all__ = ["Auditing", "Discovery", "Exporting", "FhirServing", "Services"]
Clock = Callable[[], float]  # seconds since the epoch


def iso_now(clock: Clock) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


@dataclass(frozen=True, slots=True)
class FhirServing:
    """Serving FHIR resources: the data, the guard, paging cursors, field redactions."""

    data: FhirData
    guard: Guard
    cursor_key: bytes
    redactions: Mapping[str, tuple[str, ...]]
    fhir_base: str  # <base URL>/fhir
    clock: Clock = time.time

    def now_iso(self) -> str:
        return iso_now(self.clock)


@dataclass(frozen=True, slots=True)
class Exporting:
    """Bulk export jobs of this process (their files live in the data dir)."""

    jobs: ExportJobs
    base_url: str


@dataclass(frozen=True, slots=True)
class Auditing:
    """Reading the evidence and acting on alerts; auditor pages have signed cursors too."""

    guard: Guard
    evidence: EvidenceQueries
    pseudonymizer: Pseudonymizer
    alert_actions: AlertActionRecorder
    checkpoint_jwks: Mapping[str, Any]  # the public keys of the signed checkpoints
    cursor_key: bytes
    base_url: str
    clock: Clock = time.time

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"


@dataclass(frozen=True, slots=True)
class Discovery:
    """The public documents: CapabilityStatement and SMART configuration."""

    capability_statement: Mapping[str, Any]
    smart_configuration: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Services:
    """Every group, as the app keeps them; a route asks for the groups it needs."""

    guard: Guard
    fhir: FhirServing
    exporting: Exporting
    auditing: Auditing
    discovery: Discovery
    dev_issuer: DevIssuer | None  # on only while no trusted issuer is configured
    max_body_bytes: int
