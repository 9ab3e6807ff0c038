"""The API's errors: each maps to one HTTP status, one OperationOutcome code, and carries the
verdict its request's evidence records (by default a deny for its one reason code) and what
the request disclosed before it was refused (by default nothing)."""

from api.security.disclosure import NOTHING, Disclosure
from api.security.principal import TokenFacts
from api.security.verdict import Verdict, deny
from evidence.core import FhirEvidenceError, ReasonCode


class ApiError(FhirEvidenceError):
    status = 400
    issue_code = "invalid"
    reason: ReasonCode = ReasonCode.QUERY_INVALID
    diagnostics = "The request is invalid."

    def __init__(
        self,
        diagnostics: str | None = None,
        reason: ReasonCode | None = None,
        *,
        verdict: Verdict | None = None,
        disclosed: Disclosure = NOTHING,
    ) -> None:
        if reason is not None:
            self.reason = reason
        if diagnostics is not None:
            self.diagnostics = diagnostics
        super().__init__(self.diagnostics, code=str(self.reason))
        self.verdict = verdict if verdict is not None else deny(self.reason)
        self.disclosed = disclosed

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(ApiError):
    pass


class UnprocessableResource(ApiError):
    """Well-formed JSON that is not a valid FHIR resource (FHIR answers 422 for these)."""

    status = 422
    issue_code = "processing"
    diagnostics = "The resource is not valid FHIR R4."


class Unauthorized(ApiError):
    status = 401
    issue_code = "login"
    reason = ReasonCode.TOKEN_MALFORMED
    diagnostics = "The access token is missing or invalid."

    def __init__(self, reason: ReasonCode | None = None, token: TokenFacts | None = None) -> None:
        super().__init__(reason=reason)
        self.token = token  # what the evidence keeps of a refused token (alg, kid, jti)

    def headers(self) -> dict[str, str]:
        # The contract asks for error="invalid_token" on every 401, a missing token included.
        return {"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'}


class Forbidden(ApiError):
    status = 403
    issue_code = "forbidden"
    reason = ReasonCode.SCOPE_INSUFFICIENT
    diagnostics = "The access token does not grant this interaction."

    def __init__(
        self,
        diagnostics: str | None = None,
        reason: ReasonCode | None = None,
        required_scope: str = "",
        verdict: Verdict | None = None,
    ) -> None:
        super().__init__(diagnostics, reason, verdict=verdict)
        self.required_scope = required_scope

    def headers(self) -> dict[str, str]:
        value = 'Bearer realm="fhir", error="insufficient_scope"'
        if self.required_scope:
            value += f', scope="{self.required_scope}"'
        return {"WWW-Authenticate": value}


class NotFound(ApiError):
    status = 404
    issue_code = "not-found"
    reason = ReasonCode.NOT_FOUND
    diagnostics = "Resource not found."


class MethodNotAllowed(ApiError):
    status = 405
    issue_code = "not-supported"
    reason = ReasonCode.METHOD_NOT_ALLOWED
    diagnostics = "This interaction is not supported here."


class NotAcceptable(ApiError):
    """`_format` or `Accept` asks for a representation other than FHIR JSON."""

    status = 406
    issue_code = "not-supported"
    reason = ReasonCode.QUERY_INVALID
    diagnostics = "Only FHIR JSON (application/fhir+json) is served."


class NotSupported(ApiError):
    """A FHIR interaction (or an HTTP header asking for one, e.g. If-None-Exist) this server
    does not implement: refused rather than ignored."""

    status = 501
    issue_code = "not-supported"
    reason = ReasonCode.INTERACTION_NOT_SUPPORTED
    diagnostics = "This interaction is not supported here."


class PreconditionFailed(ApiError):
    """An update's If-Match named another version than the stored one."""

    status = 412
    issue_code = "conflict"
    reason = ReasonCode.VERSION_CONFLICT
    diagnostics = "The resource was changed since the version If-Match names; read it again."


class UnsupportedMediaType(ApiError):
    status = 415
    issue_code = "not-supported"
    reason = ReasonCode.QUERY_INVALID
    diagnostics = "The body must be application/fhir+json."


class TooManyRequests(ApiError):
    status = 429
    issue_code = "throttled"
    reason = ReasonCode.RATE_LIMITED
    diagnostics = "Too many requests; retry later."

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__()
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class ServiceUnavailable(ApiError):
    status = 503
    issue_code = "transient"
    reason = ReasonCode.DEPENDENCY_FAILED
    diagnostics = "The service is temporarily unavailable."


class ExportStorageMissing(ApiError):
    """Replicas share the FHIR data (PostgreSQL) but no export directory was configured: a
    status poll or download reaching another replica would not find the job."""

    status = 501
    issue_code = "not-supported"
    reason = ReasonCode.EXPORT_STORAGE_MISSING
    diagnostics = (
        "Bulk export needs storage every server replica shares: the operator sets "
        "FHIR_EVIDENCE_EXPORT_DIR."
    )


class Conflict(ApiError):
    """The data source refused a change that conflicts with what it holds (gateway mode: the
    upstream keeps a resource others still refer to)."""

    status = 409
    issue_code = "conflict"
    reason = ReasonCode.RESOURCE_REFERENCED
    diagnostics = "The change conflicts with the resources held; nothing was changed."
