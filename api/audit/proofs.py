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
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.paging import after_cursor, json_response, page_body, staff_auditor, window
from api.audit.views import iso_from_us
from api.errors import InvalidRequest, NotFound
from api.http.deps import audit, services
from evidence.core import Decision, ReasonCode
from evidence.core.seal.rows import StoredCheckpoint, stored_checkpoint
from evidence.store.seal import proofs
from evidence.store.seal.store import SealStore

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


def _unavailable(exc: proofs.ProofUnavailable) -> NotFound:
    return NotFound(f"No proof: {exc}.")


@router.get("/audit/requests/{request_id}/proof")
async def request_proof(request: Request, request_id: str) -> Response:
    svc, _principal = staff_auditor(request, "audit.proof")
    rows = await run_in_threadpool(svc.store.request_events, request_id[:128])
    if not rows:
        raise NotFound("No evidence for this request id (yet).")
    seals = SealStore(svc.store)
    try:
        found = [await run_in_threadpool(_proof, seals, row) for row in rows]
    except proofs.ProofUnavailable as exc:
        raise _unavailable(exc) from None
    audit(request).count_returned = len(found)
    keys = f"{svc.settings.base_url}{KEYS_PATH}"
    return json_response({"request_id": request_id, **found[0], "proofs": found, "keys": keys})


def _proof(seals: SealStore, row: dict[str, Any]) -> dict[str, Any]:
    producer, sequence = str(row["producer_id"]), int(row["sequence"])
    proof = proofs.inclusion(seals, producer, sequence, str(row["event_hash"]))
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


@router.get("/audit/checkpoints")
async def list_checkpoints(request: Request) -> Response:
    svc, principal = staff_auditor(request, "audit.checkpoints")
    since, until, limit = window(request)
    producer = _producer(request, required=False)
    key = f"checkpoints:{producer}:{since}:{until}"
    after = after_cursor(svc, request, principal, key)
    seals = SealStore(svc.store)
    rows = await run_in_threadpool(seals.checkpoint_page, producer, since, until, limit, after)
    body = page_body(svc, request, principal, key, rows, limit, name="checkpoints",
                     view=_row_view, sort_key=("ts_us", "producer_id"))  # fmt: skip
    return json_response(body)


def _size(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    if not value.isdigit() or not 0 < int(value) < MAX_TREE_SIZE:
        raise InvalidRequest(f"{name} must be a tree size (a positive integer).")
    return int(value)


@router.get("/audit/checkpoints/consistency")
async def consistency(request: Request) -> Response:
    svc, _principal = staff_auditor(request, "audit.checkpoints.consistency")
    producer = _producer(request, required=True)
    first, second = _size(request, "first"), _size(request, "second")
    if first > second:
        raise InvalidRequest("first must not exceed second.")
    seals = SealStore(svc.store)
    try:
        found = await run_in_threadpool(proofs.consistency, seals, producer, first, second)
    except proofs.ProofUnavailable as exc:
        raise _unavailable(exc) from None
    views = {name: checkpoint_view(found[name]) if found[name] else None
             for name in ("first", "second")}  # fmt: skip
    audit(request).count_returned = 1
    return json_response({
        "producer_id": producer, "first": first, "second": second, "proof": found["proof"],
        "first_checkpoint": views["first"], "second_checkpoint": views["second"],
    })  # fmt: skip


@router.get(KEYS_PATH)
async def checkpoint_keys(request: Request) -> Response:
    audit(request).decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
    audit(request).target("checkpoint-keys")
    body = orjson.dumps(services(request).checkpoint_jwks)
    headers = {"Cache-Control": "public, max-age=300"}
    return Response(body, media_type="application/jwk-set+json", headers=headers)
