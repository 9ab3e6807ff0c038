"""`GET /metrics` (Prometheus text format): request counts by status and decision, outbox
and pipeline levels, evidence rows stored, alerts and webhook deliveries. Labels hold
status codes, decisions and outcomes only: never a principal, patient or request id."""

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from api.http.deps import audit
from api.security.verdict import ALLOWED

REQUESTS = Counter("fhir_evidence_requests", "Requests answered", ["status", "decision"])
OUTBOX_LAST = Gauge("fhir_evidence_outbox_last_sequence", "Last sequence written to the outbox")
PIPELINE_LAG = Gauge(
    "fhir_evidence_pipeline_lag_events",
    "Outbox events not yet taken by this process's pipeline (inline processor or relay)",
)

router = APIRouter()


def bind_levels(last_sequence: Callable[[], int], pipeline_lag: Callable[[], int]) -> None:
    """Levels are read when scraped, from the runtime serving this process."""
    OUTBOX_LAST.set_function(last_sequence)
    PIPELINE_LAG.set_function(pipeline_lag)


def count_request(status: int, decision: str) -> None:
    REQUESTS.labels(status=str(status), decision=decision).inc()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """No token (levels and counts only); recorded like every request."""
    audit(request).conclude(ALLOWED)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
