"""The FastAPI application factory (composition root for HTTP)."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from api.access.guard import Guard
from api.audit.alert_actions import router as alert_actions_router
from api.audit.alerts import router as alerts_router
from api.audit.auditevent_search import SEARCH_PARAMS as AUDITEVENT_SEARCH_PARAMS
from api.audit.fhir_routes import router as auditevent_router
from api.audit.filters import FILTER_PARAMS
from api.audit.proofs import router as proofs_router
from api.audit.routes import router as audit_router
from api.boot.runtime import Runtime
from api.console.dev_issuer import router as dev_issuer_router
from api.console.routes import router as console_router
from api.data.indexing import SEARCH_PARAMS
from api.errors import ServiceUnavailable, Unauthorized
from api.fhir.export import router as export_router
from api.fhir.export_params import KICK_OFF_PARAMS
from api.fhir.routes import router as fhir_router
from api.fhir.search import CONTROL_PARAMS
from api.fhir.unsupported import history_router as unsupported_history_router
from api.fhir.unsupported import router as unsupported_router
from api.fhir.writes import router as writes_router
from api.http.client_address import IPNetwork, trusted_networks
from api.http.deps import audit
from api.http.door import Door
from api.http.error_handlers import install_error_handlers
from api.http.health import HealthMiddleware
from api.http.metrics import bind_levels
from api.http.metrics import router as metrics_router
from api.http.middleware import EvidenceMiddleware, UnrecordedAuditMiddleware
from api.security.verdict import ALLOWED

# The auditor API's own query parameters (api/audit: windows, paging, filters, proofs).
AUDITOR_PARAMS = frozenset(
    "since until limit _count _cursor _format principal include_audit producer severity "
    "status kind first second".split()
)


def create_app(runtime: Runtime, record_evidence: bool = True) -> FastAPI:
    """The HTTP app. `record_evidence=False` exists only for the benchmark baseline.
    GET /metrics and /openapi.json exist only when the settings switch them on
    (FHIR_EVIDENCE_EXPOSE_METRICS, FHIR_EVIDENCE_EXPOSE_OPENAPI): otherwise 404."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        await runtime.announce(_clock_us)
        yield
        runtime.stop()

    app = FastAPI(
        title="fhir-evidence", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.services = runtime.services
    bind_levels(lambda: runtime.outbox.last_sequence, runtime.pipeline_lag)
    install_error_handlers(app)
    settings = runtime.settings
    _include_routers(app)
    if settings is not None and settings.expose_metrics:
        app.include_router(metrics_router)
    if settings is not None and settings.expose_openapi:
        _serve_openapi(app)
    if record_evidence:
        max_body = runtime.services.max_body_bytes
        app.add_middleware(
            EvidenceMiddleware, outbox=runtime.outbox, clock=_clock_us, max_body_bytes=max_body,
            text_key=runtime.text_key, vocabulary=parameter_vocabulary(),
            door=_door(runtime), trusted_proxies=_trusted_proxies(runtime),
        )  # fmt: skip
    else:
        app.add_middleware(UnrecordedAuditMiddleware)
    app.add_middleware(HealthMiddleware, failing=runtime.failing)  # outermost: never recorded
    return app


def _include_routers(app: FastAPI) -> None:
    """The FHIR routes first: a request is matched against the routes in this order, and
    reads and searches are most of the traffic (no other router serves a path under /fhir)."""
    app.include_router(unsupported_history_router)  # first: /fhir/Patient/_history is no id
    app.include_router(export_router)  # before fhir_router: /fhir/Patient/$export
    app.include_router(auditevent_router)  # before fhir_router: /fhir/AuditEvent
    app.include_router(fhir_router)
    app.include_router(writes_router)
    app.include_router(unsupported_router)  # after every /fhir route it would shadow
    app.include_router(audit_router)
    app.include_router(alerts_router)
    app.include_router(alert_actions_router)
    app.include_router(proofs_router)
    app.include_router(console_router)
    app.include_router(dev_issuer_router)


def _serve_openapi(app: FastAPI) -> None:
    async def openapi(request: Request) -> Response:
        """The OpenAPI description (no token), recorded like every request."""
        audit(request).conclude(ALLOWED)
        return JSONResponse(app.openapi())

    app.add_route("/openapi.json", openapi, include_in_schema=False)


def _trusted_proxies(runtime: Runtime) -> tuple[IPNetwork, ...]:
    """The proxies whose X-Forwarded-For names the client (api.http.client_address)."""
    settings = runtime.settings
    return trusted_networks(settings.trusted_proxies) if settings is not None else ()


def _door(runtime: Runtime) -> Door | None:
    """Unauthenticated callers throttled per address (api.http.door)."""
    settings = runtime.settings
    if settings is None or settings.unauthenticated_rate_limit_per_s <= 0:
        return None
    guard = runtime.services.provide(Guard)

    def authenticates(header: str) -> bool:
        try:
            guard.authenticate(header)
        except Unauthorized:
            return False
        except ServiceUnavailable:
            return True  # no keys to check it with: the route answers 503, not the door
        return True

    limits = settings.unauthenticated_rate_limit_per_s, settings.unauthenticated_rate_limit_burst
    return Door(authenticates, *limits)


def parameter_vocabulary() -> frozenset[str]:
    """Every query parameter name some route of the app reads: kept verbatim in the
    evidence; any other name only as a keyed hash (api.http.caller_text)."""
    names = set(CONTROL_PARAMS) | set(AUDITEVENT_SEARCH_PARAMS) | set(KICK_OFF_PARAMS)
    names |= {name for params in SEARCH_PARAMS.values() for name in params}
    names |= set(FILTER_PARAMS) | AUDITOR_PARAMS
    return frozenset(names)


def _clock_us() -> int:
    return time.time_ns() // 1000
