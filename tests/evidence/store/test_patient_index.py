"""The by-patient index carries the events (packed) and its filter columns: what it serves
equals access_events, an edited copy is refused when read or named by verify, and a store
with the former narrow index is migrated on start."""

from typing import Any

import orjson
import pytest

from evidence.store import EvidenceStore
from evidence.store.access_query import AccessFilter, count_accesses, find_accesses
from evidence.store.clickhouse import READ_COLUMNS
from evidence.store.patient_index import unpack
from evidence.store.verification import verify_store
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

ALL = (0, 2**62)
Row = dict[str, Any]


def events_of(store: EvidenceStore, event_ids: list[str]) -> dict[str, Row]:
    rows = store.select(
        f"SELECT {', '.join(READ_COLUMNS)} FROM {store.database}.access_events FINAL "
        "WHERE event_id IN {ids:Array(String)}",
        {"ids": event_ids},
    )
    return {row["event_id"]: row for row in rows}


def sql(store: EvidenceStore, statement: str) -> None:
    store.command(statement.replace("{db}", store.database) + " SETTINGS mutations_sync = 1")


@pytest.fixture
def rows(evidence_store: EvidenceStore) -> list[Row]:
    events = [
        make_event(n, patient_ids=(f"pat-{n % 3}",) + ((f"pat-{n % 5 + 10}",) if n % 4 else ()),
                   decision="deny" if n % 6 == 0 else "allow")
        for n in range(1, 41)
    ]  # fmt: skip
    chain = sealed_rows(events, "api-index")
    evidence_store.insert_rows(chain, dedup_token="index")
    return chain


def test_served_rows_are_the_events(evidence_store: EvidenceStore, rows: list[Row]) -> None:
    patient = PSEUDONYMIZER.patient("pat-1")
    served = evidence_store.accesses_by_patient(patient, *ALL, limit=100)
    expected = [r for r in rows if patient in r["patient_hashes"]]
    assert [r["event_id"] for r in served] == [r["event_id"] for r in reversed(expected)]
    originals = events_of(evidence_store, [r["event_id"] for r in served])
    assert served == [originals[r["event_id"]] for r in served]  # every column, same types
    assert evidence_store.refused_index_copies == 0


def test_filters_run_on_the_index(evidence_store: EvidenceStore, rows: list[Row]) -> None:
    patient = PSEUDONYMIZER.patient("pat-0")
    f = AccessFilter(patient_hash=patient, decisions=("deny",))
    found = find_accesses(evidence_store, f, 100)
    expected = [r for r in rows if patient in r["patient_hashes"] and r["decision"] == "deny"]
    assert {r["event_id"] for r in found} == {r["event_id"] for r in expected} != set()
    assert count_accesses(evidence_store, f) == len(expected)
    paged = find_accesses(evidence_store, AccessFilter(patient_hash=patient), 2)
    after = (paged[-1]["ts_us"], paged[-1]["event_id"])
    rest = find_accesses(evidence_store, AccessFilter(patient_hash=patient), 100, after)
    every = [r for r in reversed(rows) if patient in r["patient_hashes"]]
    assert [r["event_id"] for r in paged + rest] == [r["event_id"] for r in every]


def test_an_edited_copy_is_not_served(evidence_store: EvidenceStore, rows: list[Row]) -> None:
    """Content edited, hash kept: the copy no longer hashes to it, so the event is read from
    access_events instead (and counted)."""
    victim = next(r for r in rows if PSEUDONYMIZER.patient("pat-2") in r["patient_hashes"])
    sql(
        evidence_store,
        "ALTER TABLE {db}.access_by_patient UPDATE row = replaceOne(row, "
        f'\'"decision":"{victim["decision"]}"\', \'"decision":"break-in"\') '
        f"WHERE event_id = '{victim['event_id']}'",
    )
    served = evidence_store.accesses_by_patient(PSEUDONYMIZER.patient("pat-2"), *ALL, limit=100)
    mine = next(r for r in served if r["event_id"] == victim["event_id"])
    assert mine["decision"] == victim["decision"]
    assert evidence_store.refused_index_copies >= 1


def test_an_edited_filter_column_is_named(evidence_store: EvidenceStore, rows: list[Row]) -> None:
    victim = next(r for r in rows if r["decision"] == "deny")
    sql(
        evidence_store,
        "ALTER TABLE {db}.access_by_patient UPDATE decision = 'allow' "
        f"WHERE event_id = '{victim['event_id']}'",
    )
    problems = verify_store(evidence_store, *ALL).problems
    assert {(p.kind, p.event_id) for p in problems} == {("altered", victim["event_id"])}
    assert problems[0].detail == "patient index entry differs from its event"


def test_a_rehashed_copy_is_named(evidence_store: EvidenceStore, rows: list[Row]) -> None:
    """Content and hash of the copy both replaced (self-consistent): verify compares the hash
    with the chained event's."""
    victim = rows[7]
    forged = {**victim, "decision": "deny", "event_hash": "e" * 64}
    packed = orjson.dumps(forged).decode()
    sql(
        evidence_store,
        f"ALTER TABLE {{db}}.access_by_patient UPDATE row = '{packed}', event_hash = '{'e' * 64}'"
        f" WHERE event_id = '{victim['event_id']}'",
    )
    kinds = {(p.kind, p.event_id) for p in verify_store(evidence_store, *ALL).problems}
    assert kinds == {("altered", victim["event_id"])}


def packed_row(source: Row, **overrides: Any) -> Row:
    row = source
    body = {k: v for k, v in row.items() if k != "stored_at"}
    return {
        "sub": row["sub"], "ts_us": row["ts_us"], "event_id": row["event_id"],
        "event_hash": row["event_hash"], "stored_at": None,
        "row": orjson.dumps(body).decode(), **overrides,
    }  # fmt: skip


def test_unpack_accepts_quoted_integers_and_refuses_garbage(rows: list[Row]) -> None:
    good = rows[0]
    quoted = packed_row(good)
    quoted["row"] = orjson.dumps(
        {
            k: str(v) if k in ("ts_us", "sequence") else v
            for k, v in orjson.loads(quoted["row"]).items()
        }
    ).decode()
    cases = [
        packed_row(good),
        quoted,
        packed_row(good, row="not json"),
        packed_row(good, row="[1, 2]"),
        packed_row(good, row=orjson.dumps({"event_id": good["event_id"]}).decode()),
        packed_row(good, sub="someone-else"),
        packed_row(good, event_id="evt-other"),
        packed_row(good, event_hash="0" * 64),
    ]
    events, refused = unpack(cases)
    assert refused == [2, 3, 4, 5, 6, 7]
    assert events[0] == events[1] == {**{k: v for k, v in good.items()}, "stored_at": None}
