"""What the FHIR routes are given, by capability (built once by the composition root), and
the typed dependencies that hand each group to the routes that ask for it."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from starlette.concurrency import run_in_threadpool

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
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FhirServing:
    """Serving FHIR resources: the data, the guard, paging cursors, field redactions."""

    data: FhirData
    guard: Guard
    cursor_key: bytes
    redactions: Mapping[str, tuple[str, ...]]
    fhir_base: str  # <base URL>/fhir
    clock: Clock = time.time
    # The data answers over the network (gateway mode: an upstream FHIR server, 5-50 ms a
    # call): routes then run their data work on a worker thread, never on the event loop.
    blocking_data: bool = False

    def now_iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)`, on a worker thread when the data blocks (the stores answer in
        microseconds: a thread hop would cost more than it saves)."""
        if self.blocking_data:
            return await run_in_threadpool(work, *args)
        return work(*args)


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
