"""Columns added to the evidence (schema version 3: `client_address_hash`): a store created
before them gains them at start-up, its events keep verifying and keep being served from
their by-patient copies (which lack the column), and new events carry the pseudonym."""

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from evidence.store import EvidenceStore
from evidence.store.columns import ROW_COLUMNS, with_added_columns
from evidence.store.ingest import INGEST_TABLE, PARSED_TABLE, VERSION
from evidence.store.patient_index import FILTER_COLUMNS
from evidence.store.row_check import InvalidEvidenceRow, checked_rows
from evidence.store.verification import verify_store
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

ALL = (0, 2**62)
V2_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "client_address_hash")


@pytest.fixture
def v2_store(chdb_client: Any) -> Iterator[EvidenceStore]:
    """A store as the version before the client address left it: no column, its events
    and their by-patient copies (rows without the field) in place."""
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")
    store.apply_schema()
    db = store.database
    for kind, name in [
        ("VIEW", f"access_parse_mv_{VERSION}"), ("VIEW", f"access_events_mv_{VERSION}"),
        ("VIEW", f"access_by_patient_mv_{VERSION}"), ("TABLE", PARSED_TABLE),
        ("TABLE", INGEST_TABLE),
    ]:  # fmt: skip
        store.command(f"DROP {kind} {db}.{name}")
    store.command(f"ALTER TABLE {db}.access_events DROP COLUMN client_address_hash")
    yield store
    store.command(f"DROP DATABASE IF EXISTS {db}")


def old_chain() -> list[dict[str, Any]]:
    events = [make_event(n, schema_version=2, patient_ids=("pat-old",)) for n in range(1, 6)]
    return sealed_rows(events, "api-v2")


def store_as_v2(store: EvidenceStore, rows: list[dict[str, Any]]) -> None:
    db = store.database
    block = b"\n".join(orjson.dumps(row) for row in rows)
    store.raw_insert("access_events", V2_COLUMNS, block, "JSONEachRow")
    store.command(
        f"INSERT INTO {db}.access_by_patient SELECT arrayJoin(patient_hashes) AS patient_hash, "
        f"ts_us, event_id, ts, {', '.join(FILTER_COLUMNS)}, event_hash, stored_at, "
        f"formatRowNoNewline('JSONEachRow', {', '.join(V2_COLUMNS)}) AS row "
        f"FROM {db}.access_events"
    )


def test_the_column_is_added_at_start_up_and_old_events_still_verify(
    v2_store: EvidenceStore,
) -> None:
    store, db = v2_store, v2_store.database
    chain = old_chain()
    assert "client_address_hash" not in chain[0]
    store_as_v2(store, chain)
    store.apply_schema()  # start-up of this version
    store.apply_schema()  # a no-op the second time
    columns = store.select(
        "SELECT name FROM system.columns WHERE database = {d:String} "
        "AND table = 'access_events'", {"d": db},
    )  # fmt: skip
    assert "client_address_hash" in {c["name"] for c in columns}
    served = store.accesses_by_patient(PSEUDONYMIZER.patient("pat-old"), *ALL, 100)
    assert [r["event_id"] for r in served] == [r["event_id"] for r in reversed(chain)]
    assert {r["client_address_hash"] for r in served} == {""}  # default: never recorded
    assert store.refused_index_copies == 0  # the copies without the field are served
    new = sealed_rows([make_event(n, patient_ids=("pat-old",)) for n in range(6, 9)], "api-v2",
                      first_sequence=6, prev_hash=chain[-1]["event_hash"])  # fmt: skip
    store.insert_rows(new, dedup_token="v3")
    served = store.accesses_by_patient(PSEUDONYMIZER.patient("pat-old"), *ALL, 100)
    assert [r["client_address_hash"] for r in served[:3]] == [
        PSEUDONYMIZER.client_address(f"192.0.2.{n + 1}") for n in (8, 7, 6)
    ]
    assert verify_store(store, *ALL).intact  # version 2 and 3 events in one chain


def test_an_old_row_gets_the_added_columns_and_a_new_one_must_have_them() -> None:
    (v1,) = sealed_rows([make_event(1, schema_version=1)])
    (v2,) = sealed_rows([make_event(2, schema_version=2)])
    (v3,) = sealed_rows([make_event(3)])
    assert with_added_columns(v1)["count_redacted"] == 0
    assert with_added_columns(v1)["client_address_hash"] == with_added_columns(v2)[
        "client_address_hash"] == ""  # fmt: skip
    assert with_added_columns(v3) is v3
    assert [set(r) for r in checked_rows([v1, v2, v3])] == [set(ROW_COLUMNS)] * 3
    without = {k: v for k, v in v3.items() if k != "client_address_hash"}
    with pytest.raises(InvalidEvidenceRow):
        checked_rows([without])
