"""Pure evidence core (stdlib only): events, canonical encoding, pseudonyms, hash chain."""

from evidence.core.chain import (
    GENESIS_HASH,
    SealedEvent,
    chain_hash,
    chain_hash_bytes,
    seal_event,
)
from evidence.core.encoding import canonical_bytes
from evidence.core.errors import EvidenceError, FhirEvidenceError, StoreUnavailable
from evidence.core.event import (
    EVENT_SCHEMA_VERSION,
    AccessEvent,
    Decision,
    event_from_dict,
    event_to_dict,
)
from evidence.core.pseudonym import Pseudonymizer
from evidence.core.reasons import ReasonCode
from evidence.core.record import EvidenceRecord, to_evidence_record

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "GENESIS_HASH",
    "AccessEvent",
    "Decision",
    "EvidenceError",
    "EvidenceRecord",
    "FhirEvidenceError",
    "Pseudonymizer",
    "ReasonCode",
    "SealedEvent",
    "StoreUnavailable",
    "canonical_bytes",
    "chain_hash",
    "chain_hash_bytes",
    "event_from_dict",
    "event_to_dict",
    "seal_event",
    "to_evidence_record",
]
