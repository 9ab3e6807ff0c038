"""`verify`'s check of the by-patient index against the events (see `patient_index`), over
a time window, in one aggregation (time slices would each read the whole table: neither
table is sorted by time)."""

from evidence.core.problems import ChainProblem
from evidence.store.clickhouse import EvidenceStore
from evidence.store.patient_index import CHECKED_COLUMNS


def patient_index_problems(
    store: EvidenceStore, since_us: int, until_us: int
) -> list[ChainProblem]:
    """Every patient pseudonym of every event in the window has exactly its by-patient
    index entry, the index points at nothing else, and each entry's copy of the event's
    hash, time, principal and filtered columns is the event's: a deleted entry would hide
    an access from the patient's accounting of disclosures, an extra one would invent it,
    an edited one would misfile it. The packed row itself is checked against its hash when
    read (see `patient_index`).

    One aggregation in the engine: (event, patient, SHA-256 of the checked columns) from
    both sides, and only the triples one side lacks come back."""
    window = "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64}"
    sql = (
        "SELECT event_id, patient_hash, countIf(src = 1) AS events, countIf(src = 2) AS entries "
        f"FROM (SELECT event_id, arrayJoin(patient_hashes) AS patient_hash, {_CHECKED_SHA} AS h, "
        f"1 AS src FROM {store.database}.access_events {window} "
        f"UNION ALL SELECT event_id, patient_hash, {_CHECKED_SHA} AS h, 2 AS src "
        f"FROM {store.database}.access_by_patient {window}) "
        "GROUP BY event_id, patient_hash, h HAVING events = 0 OR entries = 0"
    )
    unmatched = store.select(sql, {"s": since_us, "u": until_us})
    if not unmatched:
        return []
    events = _events_of(store, {str(r["event_id"]) for r in unmatched})
    unmatched_entries = {(str(r["event_id"]), str(r["patient_hash"])) for r in unmatched
                         if r["entries"]}  # fmt: skip
    problems = set()
    for r in unmatched:
        event, patient = str(r["event_id"]), str(r["patient_hash"])
        producer, seq, patients = events.get(event, ("", 0, frozenset()))
        entry_of_its_patient = bool(r["entries"]) and patient in patients
        event_with_other_entry = bool(r["events"]) and (event, patient) in unmatched_entries
        if entry_of_its_patient or event_with_other_entry:
            problems.add(("altered", producer, seq, event,
                          "patient index entry differs from its event"))  # fmt: skip
        elif r["entries"]:
            problems.add(("forged", producer, seq, event,
                          f"patient index entry for {patient} matches no event"))  # fmt: skip
        else:
            problems.add(("missing", producer, seq, event,
                          f"patient index entry absent for {patient}"))  # fmt: skip
    order = {"missing": 0, "forged": 1, "altered": 2}
    return [ChainProblem(*p) for p in sorted(problems, key=lambda p: (order[p[0]], p[1:]))]


def _sha_part(name: str) -> str:
    if name in ("resource_hashes", "patient_hashes"):
        return f"arrayStringConcat({name}, ',')"
    return f"toString({name})"


# The checked columns in one string (no column can hold the separator: hex digests, ids,
# codes, numbers), hashed: an entry matches its event only if all of them are equal.
_CHECKED_SHA = "SHA256(concat(" + ", '|', ".join(_sha_part(name) for name in CHECKED_COLUMNS) + "))"


def _events_of(
    store: EvidenceStore, event_ids: set[str]
) -> dict[str, tuple[str, int, frozenset[str]]]:
    sql = (
        f"SELECT event_id, producer_id, sequence, patient_hashes FROM {store.database}."
        "access_events WHERE event_id IN {ids:Array(String)}"
    )
    rows = store.select(sql, {"ids": sorted(event_ids)})
    return {
        str(r["event_id"]): (str(r["producer_id"]), int(r["sequence"]),
                             frozenset(r["patient_hashes"]))
        for r in rows
    }  # fmt: skip
