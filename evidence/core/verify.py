"""Chain verification over stored evidence rows (pure): altered, missing, forged events."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evidence.core.chain import GENESIS_HASH, chain_hash
from evidence.core.record import payload_from_row


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: str  # altered | missing | forged | duplicate
    producer_id: str
    sequence: int
    event_id: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "producer_id": self.producer_id,
            "sequence": self.sequence,
            "event_id": self.event_id,
            "detail": self.detail,
        }


@dataclass(slots=True)
class VerificationReport:
    events_checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events_checked": self.events_checked,
            "problems": [p.as_dict() for p in self.problems],
        }


def verify_chain(rows: Iterable[dict[str, Any]]) -> VerificationReport:
    """Rows must come ordered by (producer_id, sequence)."""
    report = VerificationReport()
    previous: dict[str, Any] | None = None
    for row in rows:
        report.events_checked += 1
        same_producer = previous is not None and previous["producer_id"] == row["producer_id"]
        report.problems.extend(_check_row(row, previous if same_producer else None))
        previous = row
    return report


def _check_row(row: dict[str, Any], previous: dict[str, Any] | None) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    producer, seq, event_id = row["producer_id"], int(row["sequence"]), row["event_id"]
    recomputed = chain_hash(producer, seq, row["prev_hash"], payload_from_row(row))
    if recomputed != row["event_hash"]:
        problems.append(ChainProblem("altered", producer, seq, event_id, "content hash mismatch"))
    if previous is None:
        if seq == 1 and row["prev_hash"] != GENESIS_HASH:
            problems.append(ChainProblem("forged", producer, seq, event_id, "bad genesis link"))
        return problems
    prev_seq = int(previous["sequence"])
    if seq == prev_seq:
        problems.append(ChainProblem("duplicate", producer, seq, event_id, "sequence repeated"))
    elif seq > prev_seq + 1:
        detail = f"sequences {prev_seq + 1}..{seq - 1} absent"
        problems.append(ChainProblem("missing", producer, prev_seq + 1, "", detail))
    elif row["prev_hash"] != previous["event_hash"]:
        detail = "predecessor link does not match the previous event"
        problems.append(ChainProblem("forged", producer, seq, event_id, detail))
    return problems


def verify_copies(
    copies: Iterable[dict[str, Any]], originals: dict[str, str]
) -> list[ChainProblem]:
    """Check denormalised copies (e.g. the by-patient index) against their originals.

    `originals` maps event_id to the event_hash of the verified chain. A copy whose content
    no longer matches its seal, or whose seal is not the original's, is reported.
    """
    problems: list[ChainProblem] = []
    for row in copies:
        producer, seq, event_id = row["producer_id"], int(row["sequence"]), row["event_id"]
        recomputed = chain_hash(producer, seq, row["prev_hash"], payload_from_row(row))
        if recomputed != row["event_hash"]:
            problems.append(ChainProblem("altered", producer, seq, event_id, "copy altered"))
        elif originals.get(event_id) != row["event_hash"]:
            detail = "copy has no matching original event"
            problems.append(ChainProblem("forged", producer, seq, event_id, detail))
    return problems
