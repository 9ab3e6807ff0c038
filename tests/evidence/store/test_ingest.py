"""The ingest views: a batch becomes its events and their by-patient entries (the copy is the
text that was sent), a redelivered batch is dropped everywhere, a row that is not an evidence
row is refused whole, and stores created by earlier versions are migrated on start."""

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from evidence.store import EvidenceStore
from evidence.store.columns import ROW_COLUMNS
from evidence.store.ingest import INGEST_TABLE, PARALLEL_VIEWS_FROM, PARSED_TABLE, VERSION
from evidence.store.patient_index import FILTER_COLUMNS
from evidence.store.row_check import InvalidEvidenceRow, checked_rows
from evidence.store.verification import verify_store
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

ALL = (0, 2**62)
Row = dict[str, Any]


def counts(store: EvidenceStore) -> tuple[int, int]:
    db = store.database
    return (
        int(store.command(f"SELECT count() FROM {db}.access_events")),
        int(store.command(f"SELECT count() FROM {db}.access_by_patient")),
    )


def chain_of(count: int, producer: str = "api-ingest") -> list[Row]:
    events = [
        make_event(n, patient_ids=(f"pat-{n % 3}", f"pat-{n % 2 + 7}")) for n in range(1, count + 1)
    ]
    return sealed_rows(events, producer)


def test_each_event_once_and_one_entry_per_patient(evidence_store: EvidenceStore) -> None:
    chain = chain_of(12)
    evidence_store.insert_rows(chain, dedup_token="a")
    assert counts(evidence_store) == (12, 24)
    entries = evidence_store.select(
        f"SELECT event_id, row, stored_at FROM {evidence_store.database}.access_by_patient "
        "ORDER BY event_id", {},
    )  # fmt: skip
    sent = {row["event_id"]: orjson.dumps(row).decode() for row in chain}
    assert all(entry["row"] == sent[entry["event_id"]] for entry in entries)  # the text sent
    stored = evidence_store.select(
        f"SELECT event_id, stored_at FROM {evidence_store.database}.access_events", {}
    )
    stored_at = {row["event_id"]: row["stored_at"] for row in stored}
    assert all(entry["stored_at"] == stored_at[entry["event_id"]] for entry in entries)


@pytest.mark.parametrize("size", [10, PARALLEL_VIEWS_FROM], ids=["sequential", "parallel"])
def test_a_redelivered_batch_is_dropped_in_both_tables(
    evidence_store: EvidenceStore, size: int
) -> None:
    chain = chain_of(size)
    evidence_store.insert_rows(chain, dedup_token="same")
    evidence_store.insert_rows(chain, dedup_token="same")
    assert counts(evidence_store) == (size, 2 * size)
    assert verify_store(evidence_store, *ALL).intact


@pytest.mark.parametrize(
    "damage",
    [
        lambda row: {k: v for k, v in row.items() if k != "decision"},
        lambda row: {**row, "extra": 1},
        lambda row: {k: v for k, v in row.items() if k != "count_redacted"},  # version 2
    ],
    ids=["missing-field", "extra-field", "v2-without-count_redacted"],
)
def test_a_row_without_exactly_the_columns_is_refused_whole(
    evidence_store: EvidenceStore, damage: Any
) -> None:
    chain = chain_of(5)
    with pytest.raises(InvalidEvidenceRow):
        evidence_store.insert_rows([*chain[:4], damage(chain[4])], dedup_token="bad")
    assert counts(evidence_store) == (0, 0)


@pytest.fixture
def bare_store(chdb_client: Any) -> Iterator[EvidenceStore]:
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")
    store.apply_schema()
    yield store
    store.command(f"DROP DATABASE IF EXISTS {store.database}")


def chain_objects() -> list[tuple[str, str]]:
    """(kind, name) of this version's ingest objects, the parse view first."""
    return [
        ("VIEW", f"access_parse_mv_{VERSION}"), ("VIEW", f"access_events_mv_{VERSION}"),
        ("VIEW", f"access_by_patient_mv_{VERSION}"), ("TABLE", PARSED_TABLE),
        ("TABLE", INGEST_TABLE),
    ]  # fmt: skip


def drop_ingest(store: EvidenceStore) -> None:
    for kind, name in chain_objects():
        store.command(f"DROP {kind} {store.database}.{name}")


def insert_directly(store: EvidenceStore, rows: list[Row]) -> None:
    """How versions before the ingest views inserted: JSONEachRow into access_events."""
    block = b"\n".join(orjson.dumps(row) for row in rows)
    store.raw_insert("access_events", ROW_COLUMNS, block, "JSONEachRow")


def test_a_store_whose_view_filled_the_index_from_access_events(
    bare_store: EvidenceStore,
) -> None:
    """The previous version: the index filled by a view on access_events, rendering rows."""
    store, db = bare_store, bare_store.database
    drop_ingest(store)
    packed = ", ".join(ROW_COLUMNS)
    store.command(
        f"CREATE MATERIALIZED VIEW {db}.access_by_patient_mv TO {db}.access_by_patient AS "
        f"SELECT arrayJoin(patient_hashes) AS patient_hash, ts_us, event_id, ts, "
        f"{', '.join(FILTER_COLUMNS)}, event_hash, stored_at, "
        f"formatRowNoNewline('JSONEachRow', {packed}) AS row FROM {db}.access_events"
    )
    chain = chain_of(8, "api-prev")
    insert_directly(store, chain)
    store.apply_schema()
    store.apply_schema()  # a no-op the second time
    more = sealed_rows([make_event(n) for n in range(9, 12)], "api-prev", first_sequence=9,
                       prev_hash=chain[-1]["event_hash"])  # fmt: skip
    store.insert_rows(more, dedup_token="new")
    assert counts(store) == (11, 16 + 3)  # no entry twice: the old view is gone
    assert verify_store(store, *ALL).intact

    def served(patient: str) -> list[str]:
        rows = store.accesses_by_patient(PSEUDONYMIZER.patient(patient), *ALL, 100)
        return [row["event_id"] for row in rows]

    assert served("pat-0002") == ["evt-000009"]  # sent through the ingest views
    assert served("pat-1") == ["evt-000007", "evt-000004", "evt-000001"]  # rendered by the old
    assert store.refused_index_copies == 0


NARROW_INDEX = [
    """CREATE TABLE {db}.access_by_patient (patient_hash String, ts_us Int64, event_id String,
    sub String, ts DateTime64(6, 'UTC')) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(ts) ORDER BY (patient_hash, ts_us, event_id)""",
    """CREATE MATERIALIZED VIEW {db}.access_by_patient_mv TO {db}.access_by_patient AS
    SELECT arrayJoin(patient_hashes) AS patient_hash, ts_us, event_id, sub, ts
    FROM {db}.access_events""",
]


def test_a_narrow_index_is_replaced_and_filled(bare_store: EvidenceStore) -> None:
    """A store created before the index carried its rows (keys only) is migrated."""
    store = bare_store
    drop_ingest(store)
    store.command(f"DROP TABLE {store.database}.access_by_patient")
    for statement in NARROW_INDEX:
        store.command(statement.replace("{db}", store.database))
    chain = sealed_rows([make_event(n) for n in range(1, 15)], "api-old")
    insert_directly(store, chain)
    store.apply_schema()
    store.apply_schema()  # a no-op the second time
    patient = PSEUDONYMIZER.patient("pat-0003")
    served = store.accesses_by_patient(patient, *ALL, limit=100)
    assert (
        [r["event_id"] for r in served]
        == [r["event_id"] for r in reversed(chain) if patient in r["patient_hashes"]]
        != []
    )
    assert verify_store(store, *ALL).intact
    more = sealed_rows([make_event(n) for n in range(15, 18)], "api-old", first_sequence=15,
                       prev_hash=chain[-1]["event_hash"])  # fmt: skip
    store.insert_rows(more, dedup_token="new")  # the ingest views fill the new index
    assert len(store.accesses_by_patient(PSEUDONYMIZER.patient("pat-0001"), *ALL, 100)) == 3
    assert store.refused_index_copies == 0


def test_a_version_1_row_is_stored_with_the_default_count_redacted(
    evidence_store: EvidenceStore,
) -> None:
    """Events sealed before count_redacted existed still flow (an old outbox, an old API)."""
    chain = sealed_rows([make_event(n, schema_version=1) for n in range(1, 4)], "api-v1")
    assert "count_redacted" not in chain[0]
    evidence_store.insert_rows(chain, dedup_token="v1")
    served = evidence_store.accesses_by_patient(PSEUDONYMIZER.patient("pat-0002"), *ALL, 10)
    assert [(r["event_id"], r["count_redacted"]) for r in served] == [("evt-000002", 0)]
    assert evidence_store.refused_index_copies == 0
    assert verify_store(evidence_store, *ALL).intact


def test_an_event_written_into_access_events_directly_has_no_index_entry_and_is_named(
    evidence_store: EvidenceStore,
) -> None:
    """Only the ingest path fills the index: a row slipped into access_events by hand (here
    the chain's own next event, so nothing else is wrong) is named by verify."""
    chain = chain_of(6)
    evidence_store.insert_rows(chain[:5], dedup_token="path")
    insert_directly(evidence_store, chain[5:])
    report = verify_store(evidence_store, *ALL)
    named = {(p.kind, p.sequence, p.detail.split(" for ")[0]) for p in report.problems}
    assert named == {("missing", 6, "patient index entry absent")}


def test_integers_beyond_int64_are_checked_exactly() -> None:
    """The range check's numpy table is Int64; a UInt64 sequence above it is still valid."""
    row = chain_of(1)[0]
    assert checked_rows([{**row, "sequence": 2**64 - 1}])[0]["sequence"] == 2**64 - 1
    with pytest.raises(InvalidEvidenceRow, match="sequence"):
        checked_rows([row, {**row, "sequence": 2**64}])


def test_stored_at_is_the_engines_clock_once_per_batch(evidence_store: EvidenceStore) -> None:
    """`stored_at` is the engine's clock (`now64(3)` in the parse view), one value per insert,
    the same in both tables."""
    evidence_store.insert_rows(chain_of(30), dedup_token="clock")
    db = evidence_store.database
    found = evidence_store.select(
        "SELECT uniqExact(stored_at) AS n, dateDiff('second', any(stored_at), now64(3)) AS age "
        f"FROM (SELECT stored_at FROM {db}.access_events "
        f"UNION ALL SELECT stored_at FROM {db}.access_by_patient)", {},
    )  # fmt: skip
    assert found[0]["n"] == 1
    assert 0 <= found[0]["age"] < 60
