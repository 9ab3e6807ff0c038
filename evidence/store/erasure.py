"""Legal erasure of one data subject's evidence rows (the store's part; see api/boot/erasure.py).

1. `plan`: the events that name the patient pseudonym (in `patient_hashes`, as the context
   patient, or as the acting Patient user). Events that also name other patients are kept
   unless `include_shared`: deleting them would delete the others' accounting too.
2. `record`: the erasure records (producer, sequence, event_hash, event_id, reason) go to
   the `erasures` table BEFORE anything is deleted; the caller then appends the erasure
   event (which commits to their digest) to the chain.
3. `delete`: the rows leave `access_events` and the by-patient index (a mutation: the data
   is physically rewritten, not only hidden).
Chains, checkpoint roots and the proofs of every other event keep verifying: the Merkle
leaves are event hashes, and the recorded hash stands in for each erased row.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from evidence.core.erasure import ErasedEvent, erasure_digest
from evidence.store.clickhouse import EvidenceStore
from evidence.store.seal.store import SealStore


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    erasure_id: str
    reason: str
    erased: tuple[ErasedEvent, ...]
    kept_shared: int  # events naming the patient and others, left in place

    @property
    def digest(self) -> str:
        return erasure_digest(self.erasure_id, self.reason, self.erased)


def plan(
    store: EvidenceStore, patient_hash: str, reason: str, erasure_id: str, include_shared: bool
) -> ErasurePlan:
    sql = (
        "SELECT producer_id, sequence, event_hash, event_id, patient_hashes "
        f"FROM {store.database}.access_events FINAL "
        "WHERE has(patient_hashes, {h:String}) OR context_patient_hash = {h:String} "
        "OR endsWith(fhir_user, concat('Patient/', {h:String})) ORDER BY producer_id, sequence"
    )
    erased, kept = [], 0
    for row in store.select(sql, {"h": patient_hash}):
        if set(row["patient_hashes"]) - {patient_hash} and not include_shared:
            kept += 1
            continue
        erased.append(ErasedEvent(str(row["producer_id"]), int(row["sequence"]),
                                  str(row["event_hash"]), str(row["event_id"])))  # fmt: skip
    return ErasurePlan(erasure_id, reason, tuple(erased), kept)


def record(seals: SealStore, erasure: ErasurePlan, now_us: int) -> None:
    seals.insert_erasures([
        {"erasure_id": erasure.erasure_id, "producer_id": e.producer_id,
         "sequence": e.sequence, "event_hash": e.event_hash, "event_id": e.event_id,
         "erased_at_us": now_us, "reason": erasure.reason}
        for e in erasure.erased
    ])  # fmt: skip


def delete(store: EvidenceStore, erased: Sequence[ErasedEvent]) -> None:
    ids = sorted({e.event_id for e in erased})
    for table in ("access_events", "access_by_patient"):
        store.command(
            f"ALTER TABLE {store.database}.{table} DELETE WHERE event_id IN {{ids:Array(String)}}",
            params={"ids": ids},
            settings={"mutations_sync": 2},
        )
