"""The evidence store contract, run on every backend the `evidence_store` fixture yields.

Rows are built with the real pipeline: AccessEvent → evidence_payload → seal_event chain →
to_evidence_record(...).as_row(). Timestamps are recent: the tables have a TTL and rows
older than the retention could be dropped by a merge.
"""

import json
import re
import time
from typing import Any

import pytest

from evidence.core import AccessEvent, Decision
from evidence.core.record import evidence_payload, payload_from_row
from evidence.core.verify import verify_chain
from evidence.store import EvidenceStore, StoreUnavailable
from evidence.store.row_check import InvalidEvidenceRow
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

HOUR_US = 3_600_000_000
NOW_US = int(time.time()) // 3600 * HOUR_US
BASE_US = NOW_US - 48 * HOUR_US
COUNT = 40
SUBS = ("dr-alice", "dr-bob")
RAW_MARK = "RAWPATIENT"


def patient_id(n: int) -> str:
    return f"{RAW_MARK}-{n % 5}"


def events() -> list[AccessEvent]:
    """Pairs of events share a timestamp, so paging must break ties on event_id."""
    return [
        make_event(
            n,
            ts_us=BASE_US + (n // 2) * 60_000_000,
            sub=SUBS[n % 2],
            patient_ids=(patient_id(n), patient_id(n + 1)) if n % 3 == 0 else (patient_id(n),),
            resource_ids=(f"Observation/obs-{RAW_MARK}-{n}", f"Patient/{patient_id(n)}"),
            context_patient_id=patient_id(n) if n % 4 == 0 else "",
            fhir_user=f"Patient/{patient_id(n)}" if n % 4 == 0 else "Practitioner/prac-1",
            decision=Decision.DENY if n % 5 == 0 else Decision.ALLOW,
        )
        for n in range(1, COUNT + 1)
    ]


EVENTS = events()
ROWS = sealed_rows(EVENTS, producer_id="api-store")
ALL = (0, NOW_US + HOUR_US)


def database(store: EvidenceStore) -> str:
    return store._db  # the fixture picks a fresh database per test


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["event_id"] for row in rows]


def expected_by_patient(raw: str) -> set[str]:
    return {e.event_id for e in EVENTS if raw in e.patient_ids}


@pytest.fixture
def store(evidence_store: EvidenceStore) -> EvidenceStore:
    evidence_store.insert_rows(ROWS, dedup_token="api-store:1-40")
    return evidence_store


def test_rows_come_back_with_their_exact_payload(store: EvidenceStore) -> None:
    stored = store.chain_rows(*ALL)
    assert ids(stored) == [r["event_id"] for r in ROWS]
    for row, built, event in zip(stored, ROWS, EVENTS, strict=True):
        assert payload_from_row(row) == evidence_payload(event, PSEUDONYMIZER)
        for name in ("producer_id", "sequence", "prev_hash", "event_hash", "hour_of_week"):
            assert row[name] == built[name], name
    assert store.count_events() == COUNT


def test_accesses_by_patient(store: EvidenceStore) -> None:
    for n in range(5):
        raw = f"{RAW_MARK}-{n}"
        found = store.accesses_by_patient(PSEUDONYMIZER.patient(raw), *ALL, limit=1000)
        assert set(ids(found)) == expected_by_patient(raw)
        assert len(found) == len(set(ids(found)))
    assert store.accesses_by_patient(PSEUDONYMIZER.patient("nobody"), *ALL, limit=10) == []


def test_accesses_by_principal(store: EvidenceStore) -> None:
    for sub in SUBS:
        found = store.accesses_by_principal(sub, *ALL, limit=1000)
        assert set(ids(found)) == {e.event_id for e in EVENTS if e.sub == sub}
    assert store.accesses_by_principal("dr-nobody", *ALL, limit=10) == []


def test_request_events(store: EvidenceStore) -> None:
    found = store.request_events(EVENTS[6].request_id)
    assert ids(found) == [EVENTS[6].event_id]
    assert found[0]["decision"] == str(EVENTS[6].decision)
    assert store.request_events("req-unknown") == []


def test_since_until_window_is_half_open(store: EvidenceStore) -> None:
    since, until = EVENTS[9].ts_us, EVENTS[19].ts_us
    expected = {e.event_id for e in EVENTS if since <= e.ts_us < until and e.sub == "dr-bob"}
    found = store.accesses_by_principal("dr-bob", since, until, limit=1000)
    assert set(ids(found)) == expected
    assert {r["event_id"] for r in store.chain_rows(since, until)} == {
        e.event_id for e in EVENTS if since <= e.ts_us < until
    }
    raw = patient_id(1)
    by_patient = store.accesses_by_patient(PSEUDONYMIZER.patient(raw), since, until, 1000)
    assert set(ids(by_patient)) == {
        e.event_id for e in EVENTS if raw in e.patient_ids and since <= e.ts_us < until
    }


def _all_pages(fetch: Any, limit: int) -> list[list[dict[str, Any]]]:
    pages, after = [], None
    while True:
        page = fetch(limit=limit, after=after)
        if not page:
            return pages
        pages.append(page)
        after = (page[-1]["ts_us"], page[-1]["event_id"])


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_paging_is_disjoint_descending_and_complete(store: EvidenceStore, limit: int) -> None:
    def by_sub(limit: int, after: Any) -> list[dict[str, Any]]:
        return store.accesses_by_principal("dr-alice", *ALL, limit=limit, after=after)

    raw = patient_id(2)

    def by_patient(limit: int, after: Any) -> list[dict[str, Any]]:
        return store.accesses_by_patient(PSEUDONYMIZER.patient(raw), *ALL, limit, after)

    for fetch, expected in [
        (by_sub, {e.event_id for e in EVENTS if e.sub == "dr-alice"}),
        (by_patient, expected_by_patient(raw)),
    ]:
        pages = _all_pages(fetch, limit)
        flat = [row for page in pages for row in page]
        assert all(len(page) <= limit for page in pages)
        assert len(flat) == len(set(ids(flat)))  # disjoint
        assert set(ids(flat)) == expected  # complete
        keys = [(row["ts_us"], row["event_id"]) for row in flat]
        assert keys == sorted(keys, reverse=True)


def test_paging_breaks_timestamp_ties(store: EvidenceStore) -> None:
    same_ts = [e for e in EVENTS if e.ts_us == EVENTS[2].ts_us]
    assert len(same_ts) == 2 and {e.sub for e in same_ts} == set(SUBS)
    raw = "tie-patient"
    tied = sealed_rows(
        [make_event(900 + i, ts_us=BASE_US, patient_ids=(raw,)) for i in range(5)], "api-ties"
    )
    store.insert_rows(tied, dedup_token="ties")
    pages = _all_pages(
        lambda limit, after: store.accesses_by_patient(
            PSEUDONYMIZER.patient(raw), *ALL, limit, after
        ),
        2,
    )
    assert [ids(p) for p in pages] == [
        ["evt-000904", "evt-000903"],
        ["evt-000902", "evt-000901"],
        ["evt-000900"],
    ]


@pytest.mark.parametrize("token", ["api-store:1-40", "api-store:retry", "api-store:1-20"])
def test_reinserts_never_show_duplicates(store: EvidenceStore, token: str) -> None:
    store.insert_rows(ROWS if token != "api-store:1-20" else ROWS[:20], dedup_token=token)
    store.insert_rows(ROWS[10:30], dedup_token=token + "/b")
    assert store.count_events() == COUNT
    assert ids(store.chain_rows(*ALL)) == [r["event_id"] for r in ROWS]
    for sub in SUBS:
        found = ids(store.accesses_by_principal(sub, *ALL, limit=1000))
        assert len(found) == len(set(found)) == COUNT // 2
    for n in range(5):
        raw = f"{RAW_MARK}-{n}"
        found = ids(store.accesses_by_patient(PSEUDONYMIZER.patient(raw), *ALL, limit=1000))
        assert sorted(found) == sorted(expected_by_patient(raw))
    assert len(store.request_events(EVENTS[14].request_id)) == 1
    assert verify_chain(store.chain_rows(*ALL)).intact


def _table_rows(store: EvidenceStore, table: str) -> list[dict[str, Any]]:
    text = store.raw_command(f"SELECT * FROM {database(store)}.{table} FORMAT JSONEachRow")
    return [json.loads(line) for line in str(text).splitlines() if line.strip()]


@pytest.mark.parametrize("table", ["access_events", "access_by_patient"])
def test_stored_rows_hold_no_raw_patient_id(store: EvidenceStore, table: str) -> None:
    rows = _table_rows(store, table)
    assert len(rows) >= COUNT
    for row in rows:
        for name, value in row.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, str):
                    assert RAW_MARK not in item, (table, name, item)


def test_schema_keeps_sort_keys_and_retention(store: EvidenceStore) -> None:
    for table, key in [
        ("access_events", "ORDER BY (sub, ts_us, event_id)"),
        ("access_by_patient", "ORDER BY (patient_hash, ts_us, event_id)"),
    ]:
        ddl = str(store.raw_command(f"SHOW CREATE TABLE {database(store)}.{table}"))
        ddl = ddl.replace("\\n", "\n").replace("\\'", "'")
        assert key in ddl, ddl
        ttl = re.search(
            r"TTL toDateTime\(ts\) \+ (?:toIntervalYear\((\d+)\)|INTERVAL (\d+) YEAR)", ddl
        )
        assert ttl is not None, ddl
        assert int(ttl.group(1) or ttl.group(2)) >= 6
        assert "ReplacingMergeTree" in ddl


def test_schema_is_idempotent(store: EvidenceStore) -> None:
    store.apply_schema()
    assert store.count_events() == COUNT


def test_chain_verifies_and_a_mutation_is_detected(store: EvidenceStore) -> None:
    report = verify_chain(store.chain_rows(*ALL))
    assert report.intact and report.events_checked == COUNT
    victim = next(e for e in EVENTS if e.decision is Decision.DENY)
    store.raw_command(
        f"ALTER TABLE {database(store)}.access_events UPDATE decision = 'allow' "
        f"WHERE event_id = '{victim.event_id}' SETTINGS mutations_sync = 1"
    )
    assert store.request_events(victim.request_id)[0]["decision"] == "allow"
    report = verify_chain(store.chain_rows(*ALL))
    assert [(p.kind, p.event_id) for p in report.problems] == [("altered", victim.event_id)]


def test_foreign_errors_become_store_unavailable(store: EvidenceStore) -> None:
    with pytest.raises(StoreUnavailable):
        store.raw_command(f"SELECT no_such_column FROM {database(store)}.access_events")
    with pytest.raises(StoreUnavailable):
        store.raw_insert("access_events", ["status"], b'{"status": "not a number"}', "JSONEachRow")
    assert store.count_events() == COUNT


@pytest.mark.parametrize(
    "damage",
    [
        {"status": "not a number"},
        {"status": True},
        {"decision": None},
        {"patient_hashes": "one-hash"},
        {"ts_us": 1.5},
        {"status": 70_000},
        {"sequence": 0},
        {"sequence": -1},
        {"hour_of_week": 300},
        {"ts_us": 2**63},
    ],
)
def test_a_row_with_a_value_of_the_wrong_kind_is_refused_whole(
    store: EvidenceStore, damage: dict[str, Any]
) -> None:
    with pytest.raises(InvalidEvidenceRow, match=next(iter(damage))):
        store.insert_rows([ROWS[0], {**ROWS[1], **damage}], dedup_token="bad")
    assert store.count_events() == COUNT


def test_empty_insert_is_a_no_op(evidence_store: EvidenceStore) -> None:
    evidence_store.insert_rows([], dedup_token="nothing")
    assert evidence_store.count_events() == 0
    assert evidence_store.chain_rows(*ALL) == []


def test_verify_store_checks_the_patient_index(store: EvidenceStore) -> None:
    from evidence.store.verification import verify_store

    assert verify_store(store, *ALL).intact
    victim = next(e for e in EVENTS if e.patient_ids)
    db = database(store)
    # Hiding an access from a patient's accounting: delete its index entries.
    store.raw_command(
        f"ALTER TABLE {db}.access_by_patient DELETE WHERE event_id = '{victim.event_id}' "
        "SETTINGS mutations_sync = 1"
    )
    report = verify_store(store, *ALL)
    assert {(p.kind, p.event_id) for p in report.problems} == {("missing", victim.event_id)}
    # Inventing an access: an index entry pointing a patient at an unrelated event.
    other = next(e for e in EVENTS if e.event_id != victim.event_id)
    store.raw_command(
        f"INSERT INTO {db}.access_by_patient (patient_hash, ts_us, event_id, sub, ts) "
        f"VALUES ('{'f' * 32}', 1, '{other.event_id}', 'x', now64(6))"
    )
    kinds = {(p.kind, p.event_id) for p in verify_store(store, *ALL).problems}
    assert ("forged", other.event_id) in kinds


@pytest.mark.parametrize(
    "name", ["", "evidence; DROP TABLE x", "a.b", "1abc", "évidence", "a" * 65]
)
def test_the_database_name_must_be_a_plain_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        EvidenceStore(object(), name)  # type: ignore[arg-type]
