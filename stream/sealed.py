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
from evidence.core.record import hour_of_week, payload_fields
from stream.outbox import OutboxRow

# The reason code of each kind of poison (the dead letter's `code`, the metric's label).
EMPTY = "event.empty"  # a message without a value
NOT_JSON = "event.not_json"  # a message that is not JSON
SCHEMA = "event.schema"  # JSON, but not a raw message, event or evidence payload of ours
SEAL_MISMATCH = "event.seal_mismatch"  # the bytes are not what the producer chained
UNKNOWN_KEY_VERSION = "event.unknown_key_version"  # pseudonyms of a key not held here
RAW_MISMATCH = "event.raw_mismatch"  # the raw event beside the payload is another event
POISON_CODES = (EMPTY, NOT_JSON, SCHEMA, SEAL_MISMATCH, UNKNOWN_KEY_VERSION, RAW_MISMATCH)


class PoisonEvent(FhirEvidenceError):
    """An event that can never become evidence as it is; it goes to the dead letters with
    the code of its kind (one of POISON_CODES)."""

    code = "event.poison"


_KEYS_BY_VERSION: dict[Any, frozenset[str]] = {}


def _expected_keys(version: Any) -> frozenset[str]:
    """The payload fields of this schema version (remembered per version value seen)."""
    try:
        return _KEYS_BY_VERSION[version]
    except KeyError:
        pass
    except TypeError:  # an unhashable version: no schema has it
        return frozenset()
    try:
        keys = frozenset(payload_fields(int(version)))
    except (TypeError, ValueError):
        keys = frozenset()
    if len(_KEYS_BY_VERSION) < 64:
        _KEYS_BY_VERSION[version] = keys
    return keys


def sealed_row(
    payload: bytes, producer_id: str, sequence: int, prev_hash: str, event_hash: str
) -> dict[str, Any]:
    """The evidence row of a payload sealed at the source: the seal is checked on the exact
    bytes, nothing is re-derived."""
    if chain_hash_bytes(producer_id, sequence, prev_hash, payload) != event_hash:
        raise PoisonEvent("the event does not match its seal", SEAL_MISMATCH)
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PoisonEvent("malformed payload", NOT_JSON) from exc
    if not isinstance(data, dict) or data.keys() != _expected_keys(data.get("schema_version")):
        raise PoisonEvent("payload fields do not match the evidence schema", SCHEMA)
    # `to_evidence_record(...).as_row()`, built in the dict just parsed instead of a copy
    data.update(producer_id=producer_id, sequence=sequence, prev_hash=prev_hash,
                event_hash=event_hash, hour_of_week=hour_of_week(int(data["ts_us"])))  # fmt: skip
    return data


def checked_row(row: OutboxRow, key_versions: Container[int]) -> dict[str, Any]:
    """The evidence row of one logged event. Besides the seal: its pseudonyms must be of a
    key this deployment holds (enrichment pseudonymises with it), and the raw event beside
    it must be the same event (it feeds enrichment; a swapped one would feed false facts)."""
    evidence = sealed_row(row.payload, row.producer_id, row.sequence, row.prev_hash,
                          row.event_hash)  # fmt: skip
    if row.key_version not in key_versions:
        raise PoisonEvent(f"no pseudonymisation key of version {row.key_version}",
                          UNKNOWN_KEY_VERSION)  # fmt: skip
    if row.event.get("event_id") != evidence["event_id"]:
        raise PoisonEvent("raw event and sealed payload are different events", RAW_MISMATCH)
    return evidence
