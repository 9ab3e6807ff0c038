"""The FastAPI application factory (composition root for HTTP)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from api.audit.alert_actions import router as alert_actions_router
from api.audit.alerts import router as alerts_router
from api.audit.fhir_routes import router as auditevent_router
from api.audit.proofs import router as proofs_router
from api.audit.routes import router as audit_router
from api.boot.runtime import Runtime
from api.console.routes import router as console_router
from api.data.port import RepositoryUnavailable
from api.errors import ApiError
from api.fhir.export import router as export_router
from api.fhir.responses import outcome_response
from api.fhir.routes import router as fhir_router
from api.fhir.writes import router as writes_router
from api.http.deps import audit
from api.http.metrics import bind_runtime
from api.http.metrics import router as metrics_router
from api.http.middleware import EvidenceMiddleware, UnrecordedAuditMiddleware
from evidence.core import Decision, EvidenceError, ReasonCode

log = structlog.get_logger("fhir_evidence.app")
_HTTP_CODES = {
    404: ("not-found", "Resource not found."),
    405: ("not-supported", "This interaction is not supported here."),
}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    record = audit(request)
    if record.decision is not Decision.DENY or exc.reason is not ReasonCode.NOT_FOUND:
        # a 404 after a recorded deny keeps the real reason (existence hiding)
        record.decide(Decision.DENY, str(exc.reason))
    elif not record.reasons:
        record.reasons.append(str(exc.reason))
    return outcome_response(exc.status, exc.issue_code, exc.diagnostics, exc.headers())


async def _dependency_error(request: Request, exc: Exception) -> Response:
    """A store the request needs has failed: refuse (503), never serve unaudited."""
    log.error("dependency failed", code=getattr(exc, "code", "unknown"))
    audit(request).decide(Decision.DENY, str(ReasonCode.DEPENDENCY_FAILED))
    return outcome_response(503, "transient", "The service is temporarily unavailable.")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, text = _HTTP_CODES.get(exc.status_code, ("invalid", "The request is invalid."))
    reason = ReasonCode.METHOD_NOT_ALLOWED if exc.status_code == 405 else ReasonCode.NOT_FOUND
    if exc.status_code not in _HTTP_CODES:
        reason = ReasonCode.QUERY_INVALID
    audit(request).decide(Decision.DENY, str(reason))
    return outcome_response(exc.status_code, code, text)


async def _validation_error(request: Request, exc: Exception) -> Response:
    audit(request).decide(Decision.DENY, str(ReasonCode.QUERY_INVALID))
    return outcome_response(400, "invalid", "The request is invalid.")


def create_app(runtime: Runtime, record_evidence: bool = True) -> FastAPI:
    """The HTTP app. `record_evidence=False` exists only for the benchmark baseline."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        await runtime.announce(_clock_us)
        yield
        runtime.stop()

    app = FastAPI(
        title="fhir-evidence",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = runtime.services
    bind_runtime(runtime)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(EvidenceError, _dependency_error)
    app.add_exception_handler(RepositoryUnavailable, _dependency_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(metrics_router)
    app.include_router(audit_router)
    app.include_router(alerts_router)
    app.include_router(alert_actions_router)
    app.include_router(proofs_router)
    app.include_router(console_router)
    app.include_router(export_router)  # before fhir_router: /fhir/Patient/$export
    app.include_router(auditevent_router)  # before fhir_router: /fhir/AuditEvent
    app.include_router(fhir_router)
    app.include_router(writes_router)

    @app.get("/dev-issuer/jwks.json", include_in_schema=False)
    async def dev_jwks(request: Request) -> Response:
        audit(request).target("dev-issuer.jwks")
        jwks = runtime.services.dev_jwks
        if jwks is None:
            audit(request).decide(Decision.DENY, str(ReasonCode.NOT_FOUND))
            return outcome_response(404, "not-found", "Resource not found.")
        audit(request).decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
        return Response(orjson.dumps(jwks), media_type="application/json")

    if record_evidence:
        app.add_middleware(
            EvidenceMiddleware,
            outbox=runtime.outbox,
            clock=_clock_us,
            max_body_bytes=runtime.services.settings.max_body_bytes,
        )
    else:
        app.add_middleware(UnrecordedAuditMiddleware)
    return app


def _clock_us() -> int:
    import time

    return time.time_ns() // 1000
