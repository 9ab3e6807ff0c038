"""Verify what the evidence store holds: the chains and every denormalised copy."""

from evidence.core.verify import VerificationReport, verify_chain, verify_copies
from evidence.store.clickhouse import EvidenceStore


def verify_store(store: EvidenceStore, since_us: int, until_us: int) -> VerificationReport:
    rows = store.chain_rows(since_us, until_us)
    report = verify_chain(rows)
    originals = {row["event_id"]: row["event_hash"] for row in rows}
    report.problems.extend(verify_copies(store.patient_copy_rows(since_us, until_us), originals))
    return report
