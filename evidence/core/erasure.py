"""Legal erasure of a data subject's evidence rows, kept verifiable (pure).

Before rows are deleted, each erased event is recorded as (producer, sequence, event_hash,
event_id) under an erasure id, and one erasure event is appended to the hash chain whose
`policy_version` carries the digest of that record set (`erasure/v1:<id>:<digest>`).
Merkle leaves are event hashes, so the recorded hash stands in for the deleted row: chains
and checkpoint roots still verify, and a changed, added or removed record breaks the digest,
the successor's link or the checkpoint root. The erasure event names no patient.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from evidence.core.event import AccessEvent, Decision

ERASE_ACTION = "evidence.erase"
ERASE_REASON = "erasure.legal"
ERASE_SUB = "system:fhir-evidence-erasure"
_MARKER = re.compile(r"erasure/v1:([0-9a-f]{32}):([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class ErasedEvent:
    producer_id: str
    sequence: int
    event_hash: str
    event_id: str


def erasure_digest(erasure_id: str, reason: str, erased: Iterable[ErasedEvent]) -> str:
    """SHA-256 over the erasure id, the reason and the sorted (producer, sequence, hash,
    event id) lines; NUL separates fields, LF ends lines."""
    digest = hashlib.sha256(f"fhir-evidence/erasure/v1\x00{erasure_id}\x00{reason}\n".encode())
    keyed = sorted(erased, key=lambda e: (e.producer_id, e.sequence, e.event_id))
    for e in keyed:
        line = f"{e.producer_id}\x00{e.sequence}\x00{e.event_hash}\x00{e.event_id}\n"
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


def erasure_marker(erasure_id: str, digest: str) -> str:
    marker = f"erasure/v1:{erasure_id}:{digest}"
    if not _MARKER.fullmatch(marker):
        raise ValueError("erasure ids are 32 hex digits and digests 64")
    return marker


def parse_marker(policy_version: str) -> tuple[str, str] | None:
    """(erasure id, digest) of an erasure event's policy_version, else None."""
    match = _MARKER.fullmatch(policy_version)
    return (match.group(1), match.group(2)) if match else None


def erasure_event(
    erasure_id: str, digest: str, count: int, ts_us: int, operator: str = ERASE_SUB
) -> AccessEvent:
    """The chained evidence of one erasure: who, when, how many, which record set."""
    return AccessEvent(
        event_id=erasure_id,
        request_id=erasure_id,
        trace_id="",
        ts_us=ts_us,
        method="INTERNAL",
        route="internal",
        action=ERASE_ACTION,
        resource_type="AuditEvent",
        decision=Decision.ALLOW,
        status=200,
        reasons=(ERASE_REASON,),
        sub=operator,
        count_returned=count,
        policy_version=erasure_marker(erasure_id, digest),
    )
