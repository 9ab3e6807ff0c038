"""`GET /metrics` (Prometheus text format): request counts by status and decision, outbox
and pipeline levels, evidence rows stored, alerts and webhook deliveries. Labels hold
status codes, decisions and outcomes only: never a principal, patient or request id.

One of several processes (`serve --workers N`, `bind_process`): every sample is labelled
with the process it comes from, and the pipeline process's metrics join this process's
(api.http.metrics_text)."""

from collections.abc import Callable, Sequence

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
Peers = Callable[[], Sequence[tuple[str, str]]]  # (process, its exposition text) of others
_process: list[tuple[str, Peers]] = []  # this process's name and its peers, once bound


def bind_levels(last_sequence: Callable[[], int], pipeline_lag: Callable[[], int]) -> None:
    """Levels are read when scraped, from the runtime serving this process."""
    OUTBOX_LAST.set_function(last_sequence)
    PIPELINE_LAG.set_function(pipeline_lag)


def bind_process(name: str, peers: Peers) -> None:
    """This process is `name` of several: label its samples so, and show its peers' too."""
    _process[:] = [(name, peers)]


def exposition() -> bytes:
    """This process's metrics (and, one of several, its peers', labelled by process)."""
    own = generate_latest()
    if not _process:
        return own
    from api.http.metrics_text import merged_text

    name, peers = _process[0]
    return merged_text([(name, own.decode()), *peers()])


def count_request(status: int, decision: str) -> None:
    REQUESTS.labels(status=str(status), decision=decision).inc()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """No token (levels and counts only); recorded like every request."""
    audit(request).conclude(ALLOWED)
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
