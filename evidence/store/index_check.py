"""`verify`'s check of the by-patient index against the events (see `patient_index`), over
a time window: run in time slices (`index_check_slices`) so the slices can be interleaved
with the chain reads of the same verification."""

from collections.abc import Callable
from functools import partial
from itertools import pairwise

from evidence.core.problems import ChainProblem
from evidence.store.clickhouse import EvidenceStore
from evidence.store.patient_index import CHECKED_COLUMNS

SLICE_EVENTS = 250_000


def index_check_slices(
    store: EvidenceStore, since_us: int, until_us: int
) -> list[Callable[[], list[ChainProblem]]]:
    """The check of [since_us, until_us) as jobs over consecutive time slices of about
    SLICE_EVENTS events each (an event and its index entries share their time stamp, so
    each slice is checked exactly as the whole window would be)."""
    found = store.select(
        f"SELECT count() AS n, min(ts_us) AS lo, max(ts_us) AS hi FROM {store.database}."
        "access_events WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64}",
        {"s": since_us, "u": until_us},
    )
    count, low, high = int(found[0]["n"]), int(found[0]["lo"]), int(found[0]["hi"])
    slices = max(1, -(-count // SLICE_EVENTS))
    step = max(1, (high - low + 1) // slices)
    edges = [since_us] + [low + step * k for k in range(1, slices)] + [until_us]
    edges = [e for k, e in enumerate(edges) if k == 0 or e > edges[k - 1]]
    return [partial(patient_index_problems, store, a, b) for a, b in pairwise(edges)]


def patient_index_problems(
    store: EvidenceStore, since_us: int, until_us: int
) -> list[ChainProblem]:
    """Every patient pseudonym of every event in the window has exactly its by-patient
    index entry, the index points at nothing else, and each entry's copy of the event's
    hash, time, principal and filtered columns is the event's: a deleted entry would hide
    an access from the patient's accounting of disclosures, an extra one would invent it,
    an edited one would misfile it. (Both sides are grouped per event in the engine; only
    differing events come back. The packed row itself is checked against its hash when
    read, see `patient_index`.)"""
    window = "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64}"
    checked = f"groupUniqArray(tuple({', '.join(CHECKED_COLUMNS)}))"
    sql = (
        "SELECT event_id AS event, e.producer AS producer, e.seq AS seq, "
        "e.patients AS expected, i.patients AS actual, "
        "e.copies != i.copies AND notEmpty(i.copies) AS altered FROM ("
        "SELECT event_id, any(producer_id) AS producer, any(sequence) AS seq, "
        "arraySort(arrayDistinct(groupArrayArray(patient_hashes))) AS patients, "
        f"{checked} AS copies "
        f"FROM {store.database}.access_events {window} GROUP BY event_id) AS e FULL OUTER JOIN ("
        "SELECT event_id, arraySort(groupUniqArray(patient_hash)) AS patients, "
        f"{checked} AS copies "
        f"FROM {store.database}.access_by_patient {window} GROUP BY event_id) AS i "
        "USING event_id WHERE e.patients != i.patients OR altered"
    )
    differing = store.select(sql, {"s": since_us, "u": until_us})
    orphans = {str(r["event"]) for r in differing if not r["producer"]}
    named = _seals_of(store, orphans)
    absent, extra, altered = [], [], []
    for r in differing:
        event, expected, actual = str(r["event"]), set(r["expected"]), set(r["actual"])
        producer, seq = (
            (str(r["producer"]), int(r["seq"])) if r["producer"] else (named.get(event, ("", 0)))
        )
        absent += [(p, event, producer, seq) for p in expected - actual]
        extra += [(p, event, producer, seq) for p in actual - expected]
        if r["altered"] and r["producer"]:
            altered.append((event, producer, seq))
    return [
        ChainProblem("missing", producer, seq, event, f"patient index entry absent for {p}")
        for p, event, producer, seq in sorted(absent)
    ] + [
        ChainProblem("forged", producer, seq, event,
                     f"patient index entry for {p} matches no event")
        for p, event, producer, seq in sorted(extra)
    ] + [
        ChainProblem("altered", producer, seq, event,
                     "patient index entry differs from its event")
        for event, producer, seq in sorted(altered)
    ]  # fmt: skip


def _seals_of(store: EvidenceStore, event_ids: set[str]) -> dict[str, tuple[str, int]]:
    if not event_ids:
        return {}
    sql = (
        f"SELECT event_id, producer_id, sequence FROM {store.database}.access_events "
        "WHERE event_id IN {ids:Array(String)}"
    )
    rows = store.select(sql, {"ids": sorted(event_ids)})
    return {str(r["event_id"]): (str(r["producer_id"]), int(r["sequence"])) for r in rows}
