"""`GET /metrics` (Prometheus text format): request counts by status and decision, outbox
and pipeline levels, evidence rows stored, alerts and webhook deliveries. Labels hold
status codes, decisions and outcomes only: never a principal, patient or request id."""

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from api.http.deps import audit
from api.security.verdict import ALLOWED

if TYPE_CHECKING:
    from api.boot.runtime import Runtime

REQUESTS = Counter("fhir_evidence_requests", "Requests answered", ["status", "decision"])
OUTBOX_LAST = Gauge("fhir_evidence_outbox_last_sequence", "Last sequence written to the outbox")
PIPELINE_LAG = Gauge(
    "fhir_evidence_pipeline_lag_events",
    "Outbox events not yet taken by this process's pipeline (inline processor or relay)",
)

router = APIRouter()


def bind_runtime(runtime: "Runtime") -> None:
    """Levels are read when scraped, from the runtime serving this process."""
    outbox = runtime.outbox
    OUTBOX_LAST.set_function(lambda: outbox.last_sequence)

    def lag() -> float:
        taker = runtime.processor or runtime.relay
        return 0.0 if taker is None else max(0, outbox.last_sequence - taker.position)

    PIPELINE_LAG.set_function(lag)


def count_request(status: int, decision: str) -> None:
    REQUESTS.labels(status=str(status), decision=decision).inc()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """No token (levels and counts only); recorded like every request."""
    audit(request).conclude(ALLOWED)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
