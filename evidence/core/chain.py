"""Per-producer hash chain over the canonical bytes of evidence payloads.

hash_n = SHA-256( "fhir-evidence/chain/v1" 0x00 producer_id 0x00 sequence 0x00 prev_hash 0x00
                  canonical(payload_n) ), hex encoded; the first event chains to GENESIS_HASH.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from evidence.core.encoding import canonical_bytes

GENESIS_HASH = "0" * 64
_DOMAIN = b"fhir-evidence/chain/v1\x00"


@dataclass(frozen=True, slots=True)
class SealedEvent:
    producer_id: str
    sequence: int
    prev_hash: str
    event_hash: str


def chain_hash(producer_id: str, sequence: int, prev_hash: str, payload: dict[str, Any]) -> str:
    return chain_hash_bytes(producer_id, sequence, prev_hash, canonical_bytes(payload))


def chain_hash_bytes(producer_id: str, sequence: int, prev_hash: str, payload: bytes) -> str:
    """The same hash over payload bytes that are already in canonical encoding."""
    digest = hashlib.sha256(_DOMAIN)
    digest.update(f"{producer_id}\x00{sequence}\x00{prev_hash}\x00".encode())
    digest.update(payload)
    return digest.hexdigest()


def seal_event(
    producer_id: str, sequence: int, prev_hash: str, payload: dict[str, Any]
) -> SealedEvent:
    if sequence < 1:
        raise ValueError("sequence numbers start at 1")
    return SealedEvent(
        producer_id, sequence, prev_hash, chain_hash(producer_id, sequence, prev_hash, payload)
    )
