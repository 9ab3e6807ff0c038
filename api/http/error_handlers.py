"""How errors answer: an OperationOutcome that discloses nothing internal, and the verdict
the request's evidence records, taken from the error (never guessed from a status)."""

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.data.port import RepositoryUnavailable
from api.errors import ApiError, Unauthorized
from api.http.deps import audit
from api.http.outcomes import FhirResponse, outcome_response
from api.security.verdict import Verdict, deny
from evidence.core import EvidenceError, ReasonCode

__all__ = ["install_error_handlers"]

log = structlog.get_logger("fhir_evidence.app")
NOT_FOUND = deny(ReasonCode.NOT_FOUND)
INVALID = deny(ReasonCode.QUERY_INVALID)
FAILED = deny(ReasonCode.DEPENDENCY_FAILED)
_UPSTREAM_REASONS = frozenset({ReasonCode.UPSTREAM_UNAVAILABLE, ReasonCode.UPSTREAM_TIMEOUT})
# Starlette's own refusals (no route, no such method, a malformed form): code, text, verdict.
_HTTP_ANSWERS: dict[int, tuple[str, str, Verdict]] = {
    404: ("not-found", "Resource not found.", NOT_FOUND),
    405: ("not-supported", "This interaction is not supported here.",
          deny(ReasonCode.METHOD_NOT_ALLOWED)),
}  # fmt: skip
_INVALID_ANSWER = ("invalid", "The request is invalid.", INVALID)


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):  # registered for ApiError only
        raise exc
    record = audit(request)
    if isinstance(exc, Unauthorized) and exc.token is not None:
        record.token_refused(exc.token)
    record.conclude(exc.verdict, exc.disclosed)
    issues = getattr(exc, "issues", None)  # an invalid resource: one issue per problem
    if issues:
        body = {"resourceType": "OperationOutcome", "issue": issues}
        return FhirResponse(body, status_code=exc.status, headers=exc.headers())
    return outcome_response(exc.status, exc.issue_code, exc.diagnostics, exc.headers())


async def _dependency_error(request: Request, exc: Exception) -> Response:
    """A store the request needs has failed: refuse (503), never serve unaudited. Gateway
    mode adds why (`upstream.unavailable`; `upstream.timeout`, answered 504)."""
    code = getattr(exc, "code", "unknown")
    log.error("dependency failed", code=code)
    upstream = code in _UPSTREAM_REASONS
    audit(request).conclude(deny(ReasonCode.DEPENDENCY_FAILED, code) if upstream else FAILED)
    if getattr(exc, "http_status", 503) == 504:
        return outcome_response(504, "timeout", "The service did not answer in time.")
    return outcome_response(503, "transient", "The service is temporarily unavailable.")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    code, text, verdict = _HTTP_ANSWERS.get(status, _INVALID_ANSWER)
    audit(request).conclude(verdict)
    return outcome_response(status, code, text)


async def _validation_error(request: Request, exc: Exception) -> Response:
    audit(request).conclude(INVALID)
    return outcome_response(400, "invalid", "The request is invalid.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(EvidenceError, _dependency_error)
    app.add_exception_handler(RepositoryUnavailable, _dependency_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
