"""Signed checkpoints and Merkle proofs for auditors, and the public checkpoint keys.

- `GET /audit/requests/{id}/proof`: leaf, leaf index, the newest checkpoint of the event's
  producer (signed body, signature, kid) and the inclusion audit path;
- `GET /audit/checkpoints?producer=&since=&until=`: the checkpoints, newest first, paged;
- `GET /audit/checkpoints/consistency?producer=&first=&second=`: an RFC 9162 consistency proof;
- `GET /.well-known/fhir-evidence/checkpoint-keys`: the JWKS (OKP/Ed25519) that verifies
  every checkpoint; no token (public keys), recorded like every request.
"""

import base64
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.access import StaffReading
from api.audit.paging import after_cursor, answered, json_response, page_body, window
from api.audit.serving import AuditServices
from api.audit.views import iso_from_us
from api.errors import InvalidRequest, NotFound
from api.http.deps import audit, target
from api.security.verdict import PUBLIC
from evidence.core.queries import EvidenceQueries, ProofUnavailable
from evidence.core.seal.rows import StoredCheckpoint, stored_checkpoint

router = APIRouter()
KEYS_PATH = "/.well-known/fhir-evidence/checkpoint-keys"
MAX_TREE_SIZE = 2**63


def checkpoint_view(stored: StoredCheckpoint) -> dict[str, Any]:
    """A checkpoint as the signer signed it; the other fields are read from the body."""
    cp = stored.checkpoint
    view: dict[str, Any] = {
        "producer_id": stored.producer_id,
        "tree_size": cp.tree_size if cp else stored.tree_size,
        "time": iso_from_us(cp.time_us if cp else stored.time_us),
        "body": stored.body.decode("utf-8"),
        "signature": base64.b64encode(stored.signature).decode("ascii"),
        "kid": stored.key_id,
        "alg": "Ed25519",
    }
    if cp is not None:
        view.update(root=cp.root.hex(), head=cp.head, previous=cp.previous)
    return view


def _row_view(row: dict[str, Any]) -> dict[str, Any]:
    return checkpoint_view(stored_checkpoint(row))


def _unavailable(exc: ProofUnavailable) -> NotFound:
    return NotFound(f"No proof: {exc}.")


def _audit_target(action: str) -> list[Any]:
    return [Depends(target(action, "AuditEvent"))]


@router.get("/audit/requests/{request_id}/proof", dependencies=_audit_target("audit.proof"))
async def request_proof(
    request: Request, request_id: str, _auditor: StaffReading, auditing: AuditServices
) -> Response:
    queries = auditing.evidence
    rows = await run_in_threadpool(queries.request_events, request_id[:128])
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    try:
        found = [await run_in_threadpool(_proof, queries, row) for row in rows]
    except ProofUnavailable as exc:
        raise _unavailable(exc) from None
    answered(request, len(found))
    keys = f"{auditing.base_url}{KEYS_PATH}"
    return json_response({"request_id": request_id, **found[0], "proofs": found, "keys": keys})


def _proof(queries: EvidenceQueries, row: dict[str, Any]) -> dict[str, Any]:
    producer, sequence = str(row["producer_id"]), int(row["sequence"])
    proof = queries.inclusion_proof(producer, sequence, str(row["event_hash"]))
    return {
        "event_id": row["event_id"],
        "producer_id": producer,
        "sequence": sequence,
        "event_hash": row["event_hash"],
        **proof,
        "checkpoint": checkpoint_view(proof["checkpoint"]),
    }


def _producer(request: Request, required: bool) -> str:
    producer = request.query_params.get("producer", "")
    if len(producer) > 128 or (required and not producer):
        raise InvalidRequest("producer is required (at most 128 characters).")
    return producer


@router.get("/audit/checkpoints", dependencies=_audit_target("audit.checkpoints"))
async def list_checkpoints(
    request: Request, auditor: StaffReading, auditing: AuditServices
) -> Response:
    since, until, limit = window(request)
    producer = _producer(request, required=False)
    key = f"checkpoints:{producer}:{since}:{until}"
    after = after_cursor(auditing, request, auditor.principal, key)
    page = auditing.evidence.checkpoint_page
    rows = await run_in_threadpool(page, producer, since, until, limit, after)
    body = page_body(auditing, request, auditor.principal, key, rows, limit,
                     name="checkpoints", view=_row_view,
                     sort_key=("ts_us", "producer_id"))  # fmt: skip
    return json_response(body)


def _size(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    if not value.isdigit() or not 0 < int(value) < MAX_TREE_SIZE:
        raise InvalidRequest(f"{name} must be a tree size (a positive integer).")
    return int(value)


@router.get("/audit/checkpoints/consistency",
            dependencies=_audit_target("audit.checkpoints.consistency"))  # fmt: skip
async def consistency(
    request: Request, _auditor: StaffReading, auditing: AuditServices
) -> Response:
    producer = _producer(request, required=True)
    first, second = _size(request, "first"), _size(request, "second")
    if first > second:
        raise InvalidRequest("first must not exceed second.")
    proof = auditing.evidence.consistency_proof
    try:
        found = await run_in_threadpool(proof, producer, first, second)
    except ProofUnavailable as exc:
        raise _unavailable(exc) from None
    views = {name: checkpoint_view(found[name]) if found[name] else None
             for name in ("first", "second")}  # fmt: skip
    answered(request, 1)
    return json_response({
        "producer_id": producer, "first": first, "second": second, "proof": found["proof"],
        "first_checkpoint": views["first"], "second_checkpoint": views["second"],
    })  # fmt: skip


@router.get(KEYS_PATH, dependencies=[Depends(target("checkpoint-keys"))])
async def checkpoint_keys(request: Request, auditing: AuditServices) -> Response:
    audit(request).conclude(PUBLIC)
    body = orjson.dumps(auditing.checkpoint_jwks)
    headers = {"Cache-Control": "public, max-age=300"}
    return Response(body, media_type="application/jwk-set+json", headers=headers)
