"""What the FHIR routes are given, by capability (built once by the composition root), and
the typed dependencies that hand each group to the routes that ask for it."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from api.access.guard import Guard
from api.data.port import FhirData
from api.fhir.export_jobs import ExportJobs
from api.http.deps import provided

__all__ = [
    "Discovery",
    "DiscoveryDocuments",
    "ExportServices",
    "Exporting",
    "FhirServices",
    "FhirServing",
]
Clock = Callable[[], float]  # seconds since the epoch


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
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))


@dataclass(frozen=True, slots=True)
class Exporting:
    """Bulk export jobs (their files live in the export directory); None when exports are
    refused because replicas share the FHIR data but no export directory."""

    jobs: ExportJobs | None
    base_url: str


@dataclass(frozen=True, slots=True)
class Discovery:
    """The public documents: CapabilityStatement and SMART configuration."""

    capability_statement: Mapping[str, Any]
    smart_configuration: Mapping[str, Any]


FhirServices = Annotated[FhirServing, Depends(provided(FhirServing))]
ExportServices = Annotated[Exporting, Depends(provided(Exporting))]
DiscoveryDocuments = Annotated[Discovery, Depends(provided(Discovery))]
