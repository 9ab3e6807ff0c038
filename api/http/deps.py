"""The objects the routes use, built once by the app factory and kept on app.state."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from api.access.guard import Guard
from api.data.port import FhirData
from api.http.request_audit import RequestAudit
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import EvidenceStore
from stream.outbox import OutboxWriter


@dataclass
class Services:
    settings: Settings
    repository: FhirData
    guard: Guard
    store: EvidenceStore
    pseudonymizer: Pseudonymizer
    cursor_key: bytes
    dev_jwks: dict[str, object] | None = None
    redactions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time)
    checkpoint_jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    outbox: OutboxWriter | None = None  # for evidence beyond the request's own event
    alert_actions_changed: Callable[[], None] = field(default=lambda: None)  # tell the detector

    def now_iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))


def services(request: Request) -> Services:
    return request.app.state.services


def audit(request: Request) -> RequestAudit:
    return request.state.audit
