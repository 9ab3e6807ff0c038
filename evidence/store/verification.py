"""Verify what the evidence store holds: the chains and the by-patient index."""

from evidence.core.verify import VerificationReport, verify_chain, verify_patient_index
from evidence.store.clickhouse import EvidenceStore


def verify_store(store: EvidenceStore, since_us: int, until_us: int) -> VerificationReport:
    rows = store.chain_rows(since_us, until_us)
    report = verify_chain(rows)
    index = store.patient_index_rows(since_us, until_us)
    report.problems.extend(verify_patient_index(index, rows))
    return report
