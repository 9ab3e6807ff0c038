"""What the auditor routes are given (built once by the composition root): the evidence-query
port, the pseudonymizer for the ids they are asked about, the alert-action recorder, the
checkpoint keys and their own signed cursors; and the typed dependency that hands it over."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from api.access.guard import Guard
from api.audit.recorder import AlertActionRecorder
from api.http.deps import provided
from evidence.core import Pseudonymizer
from evidence.core.queries import EvidenceQueries

__all__ = ["AuditServices", "Auditing"]


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
    clock: Callable[[], float] = time.time

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"


AuditServices = Annotated[Auditing, Depends(provided(Auditing))]
