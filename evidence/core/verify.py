"""Chain verification over stored evidence rows (pure): altered, missing, forged events."""

from collections.abc import Iterable
from typing import Any

from evidence.core.chain import GENESIS_HASH, chain_hash
from evidence.core.problems import ChainProblem, VerificationReport
from evidence.core.record import payload_from_row
from evidence.core.seal.verify import ChainRow, ProducerVerifier

__all__ = ["ChainProblem", "VerificationReport", "verify_chain", "verify_patient_index"]


def verify_chain(rows: Iterable[dict[str, Any]]) -> VerificationReport:
    """Rows (full evidence rows) must come ordered by (producer_id, sequence). Each producer's
    run is checked from its first row on: content, links, duplicates and gaps."""
    report = VerificationReport()
    verifier: ProducerVerifier | None = None
    for row in rows:
        producer, seq = row["producer_id"], int(row["sequence"])
        if verifier is None or verifier.producer != producer:
            _close(verifier, report)
            head = GENESIS_HASH if seq == 1 else None
            verifier = ProducerVerifier(producer, None, seq - 1, head)
        verifier.feed(_chain_row(row))
    _close(verifier, report)
    return report


def _chain_row(row: dict[str, Any]) -> ChainRow:
    producer, seq = row["producer_id"], int(row["sequence"])
    try:
        recomputed = chain_hash(producer, seq, row["prev_hash"], payload_from_row(row))
    except (KeyError, TypeError, ValueError):
        recomputed = ""
    return ChainRow(seq, row["event_id"], row["prev_hash"], row["event_hash"],
                    recomputed == row["event_hash"])  # fmt: skip


def _close(verifier: "ProducerVerifier | None", report: VerificationReport) -> None:
    if verifier is not None:
        result = verifier.result
        report.events_checked += result.events_checked
        report.problems.extend(result.problems)


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
