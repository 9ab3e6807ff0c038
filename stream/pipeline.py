"""From outbox row to evidence row: the pure step shared by the inline and faust runtimes."""

from typing import Any

import orjson

from evidence.core import (
    FhirEvidenceError,
    chain_hash_bytes,
)
from evidence.core.record import payload_fields, to_evidence_record


def _expected_keys(version: Any) -> frozenset[str]:
    try:
        return frozenset(payload_fields(int(version)))
    except (TypeError, ValueError):
        return frozenset()


class PoisonEvent(FhirEvidenceError):
    """An event that can never become evidence as it is; it goes to the dead letters."""

    code = "event.poison"


def sealed_row(
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
