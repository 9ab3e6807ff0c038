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


def verify_patient_index(
    index_rows: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]]
) -> list[ChainProblem]:
    """Every patient pseudonym of every verified event has exactly its index entry, and the
    index points at nothing else: a deleted entry would hide an access from the patient's
    accounting of disclosures, an extra one would invent it."""
    by_id = {row["event_id"]: row for row in events}
    expected = {(p, e) for e, row in by_id.items() for p in row["patient_hashes"]}
    actual = {(row["patient_hash"], row["event_id"]) for row in index_rows}
    problems = []
    for patient, event_id in sorted(expected - actual):
        row = by_id[event_id]
        detail = f"patient index entry absent for {patient}"
        problems.append(_problem("missing", row, detail))
    for patient, event_id in sorted(actual - expected):
        row = by_id.get(event_id, {"producer_id": "", "sequence": 0, "event_id": event_id})
        detail = f"patient index entry for {patient} matches no event"
        problems.append(_problem("forged", row, detail))
    return problems


def _problem(kind: str, row: dict[str, Any], detail: str) -> ChainProblem:
    return ChainProblem(kind, row["producer_id"], int(row["sequence"]), row["event_id"], detail)
