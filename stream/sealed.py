"""The seal check (pure): an event of the log becomes an evidence row only if it is exactly
what its producer sealed.

Pseudonymisation happens at the source: the API's outbox seals the pseudonymous payload
(keyed hashes of every identifier) into the producer's hash chain before the response
leaves. The stream never derives the payload again; it checks the seal on the exact bytes
and stores them, so what an auditor verifies in the evidence store is byte for byte what
the producer chained. Anything that fails the check is poison: parked, never stored.
"""

from collections.abc import Container
from typing import Any

import orjson

from evidence.core import FhirEvidenceError, chain_hash_bytes
from evidence.core.record import payload_fields, to_evidence_record
from stream.outbox import OutboxRow


class PoisonEvent(FhirEvidenceError):
    """An event that can never become evidence as it is; it goes to the dead letters."""

    code = "event.poison"


def _expected_keys(version: Any) -> frozenset[str]:
    try:
        return frozenset(payload_fields(int(version)))
    except (TypeError, ValueError):
        return frozenset()


def sealed_row(
    payload: bytes, producer_id: str, sequence: int, prev_hash: str, event_hash: str
) -> dict[str, Any]:
    """The evidence row of a payload sealed at the source: the seal is checked on the exact
    bytes, nothing is re-derived."""
    if chain_hash_bytes(producer_id, sequence, prev_hash, payload) != event_hash:
        raise PoisonEvent("the event does not match its seal")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PoisonEvent("malformed payload") from exc
    if not isinstance(data, dict) or set(data) != _expected_keys(data.get("schema_version")):
        raise PoisonEvent("payload fields do not match the evidence schema")
    return to_evidence_record(data, producer_id, sequence, prev_hash, event_hash).as_row()


def checked_row(row: OutboxRow, key_versions: Container[int]) -> dict[str, Any]:
    """The evidence row of one logged event. Besides the seal: its pseudonyms must be of a
    key this deployment holds (enrichment pseudonymises with it), and the raw event beside
    it must be the same event (it feeds enrichment; a swapped one would feed false facts)."""
    evidence = sealed_row(row.payload, row.producer_id, row.sequence, row.prev_hash,
                          row.event_hash)  # fmt: skip
    if row.key_version not in key_versions:
        raise PoisonEvent(f"no pseudonymisation key of version {row.key_version}")
    if row.event.get("event_id") != evidence["event_id"]:
        raise PoisonEvent("raw event and sealed payload are different events")
    return evidence
