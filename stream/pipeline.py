"""From outbox row to evidence row: the pure step shared by the inline and faust runtimes."""

from collections.abc import Mapping
from typing import Any

import orjson

from evidence.core import (
    FhirEvidenceError,
    Pseudonymizer,
    chain_hash,
    chain_hash_bytes,
    event_from_dict,
)
from evidence.core.record import evidence_payload, payload_fields, to_evidence_record


def _expected_keys(version: Any) -> frozenset[str]:
    try:
        return frozenset(payload_fields(int(version)))
    except (TypeError, ValueError):
        return frozenset()


class PoisonEvent(FhirEvidenceError):
    """An event that can never become evidence as it is; it goes to the dead letters."""

    code = "event.poison"


def evidence_row_from_payload(
    payload: bytes, producer_id: str, sequence: int, prev_hash: str, event_hash: str
) -> dict[str, Any]:
    """The evidence row of an event whose pseudonymous payload was sealed at the source:
    the seal is checked on the exact bytes, nothing is re-derived."""
    if chain_hash_bytes(producer_id, sequence, prev_hash, payload) != event_hash:
        raise PoisonEvent("the event does not match its seal")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PoisonEvent("malformed payload") from exc
    if not isinstance(data, dict) or set(data) != _expected_keys(data.get("schema_version")):
        raise PoisonEvent("payload fields do not match the evidence schema")
    return to_evidence_record(data, producer_id, sequence, prev_hash, event_hash).as_row()


def evidence_row(
    event: dict[str, Any],
    producer_id: str,
    sequence: int,
    prev_hash: str,
    event_hash: str,
    key_version: int,
    pseudonymizers: Mapping[int, Pseudonymizer],
) -> dict[str, Any]:
    """Pseudonymise and enrich one sealed event; check that its seal still holds."""
    pseudonymizer = pseudonymizers.get(key_version)
    if pseudonymizer is None:
        raise PoisonEvent(f"no pseudonymisation key of version {key_version}")
    try:
        payload = evidence_payload(event_from_dict(event), pseudonymizer)
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"malformed event: {type(exc).__name__}") from exc
    if chain_hash(producer_id, sequence, prev_hash, payload) != event_hash:
        raise PoisonEvent("the event does not match its seal")
    return to_evidence_record(payload, producer_id, sequence, prev_hash, event_hash).as_row()
