"""Tampering done directly in the ClickHouse tables (chDB) and what verify names: edited,
re-hashed, deleted, inserted and reordered rows, rewritten tails, and broken checkpoints.

Two signed checkpoints seal 60 events of one producer (sizes 40 and 60).
"""

import base64
import time
from typing import Any

import orjson
import pytest

from evidence.core.problems import VerificationReport
from evidence.core.seal.checkpoint import decode_body, encode_body
from evidence.store import EvidenceStore
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed, verifiers
from evidence.store.verification import verify_store
from tests.evidence.builders import make_event, sealed_rows
from tests.evidence.core.test_verify import reseal

SIGNER = signer_from_seed(bytes(range(32)))
KEYS = verifiers({"keys": [SIGNER.jwk]})
SECOND_US = 1_000_000
BASE_US = (int(time.time()) - 7200) * SECOND_US
ALL = (0, 2**62)
PRODUCER = "api-tamper"
Row = dict[str, Any]


def verify(store: EvidenceStore, since: int = 0) -> VerificationReport:
    return verify_store(store, since, ALL[1], KEYS)


def named(report: VerificationReport) -> set[tuple[str, int, str]]:
    return {(p.kind, p.sequence, p.event_id) for p in report.problems}


def sql(store: EvidenceStore, statement: str) -> None:
    store.command(statement.replace("{db}", store.database) + " SETTINGS mutations_sync = 1")


def event_id(style: str, n: int) -> str:
    """The API's ids are 32 hex digits (read on the binary fast path); others take the
    text path: both must report the same."""
    return f"{n:032x}" if style == "hex" else f"evt-{n:06d}"


@pytest.fixture(params=["hex", "text"])
def id_style(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rows(evidence_store: EvidenceStore, id_style: str) -> list[Row]:
    events = [
        make_event(n, ts_us=BASE_US + n * SECOND_US, event_id=event_id(id_style, n))
        for n in range(1, 61)
    ]
    chain = sealed_rows(events, PRODUCER)
    checkpointer = Checkpointer(evidence_store, SIGNER)
    evidence_store.insert_rows(chain[:40], dedup_token="a")
    checkpointer.run_once(BASE_US + 45 * SECOND_US)
    evidence_store.insert_rows(chain[40:], dedup_token="b")
    checkpointer.run_once(BASE_US + 100 * SECOND_US)
    return chain


@pytest.fixture
def store(evidence_store: EvidenceStore, rows: list[Row]) -> EvidenceStore:
    return evidence_store


def replace_row(store: EvidenceStore, old: Row, new: Row) -> None:
    """A thorough forger: the by-patient index gets the new row too (the ingest views fill
    it)."""
    for table in ("access_events", "access_by_patient"):
        sql(store, f"ALTER TABLE {{db}}.{table} DELETE WHERE event_id = '{old['event_id']}'")
    store.insert_rows([new], dedup_token=f"forged-{new['event_id']}-{new['event_hash']}")


def test_untouched_evidence_verifies(store: EvidenceStore) -> None:
    report = verify(store)
    assert report.intact, report.as_dict()
    assert (report.events_checked, report.checkpoints_checked) == (60, 2)


def test_edited_row_is_altered(store: EvidenceStore, rows: list[Row]) -> None:
    victim = rows[11]
    sql(
        store,
        f"ALTER TABLE {{db}}.access_events UPDATE decision = 'deny' "
        f"WHERE event_id = '{victim['event_id']}'",
    )
    assert named(verify(store)) == {("altered", 12, victim["event_id"])}


def test_edited_and_rehashed_row_is_named_forged(store: EvidenceStore, rows: list[Row]) -> None:
    victim = rows[44]
    replace_row(store, victim, reseal(victim, decision="deny"))
    assert named(verify(store)) == {("forged", 45, victim["event_id"])}


def test_deleted_row_is_missing(store: EvidenceStore, rows: list[Row]) -> None:
    """The by-patient index still points at the deleted event: named as well."""
    sql(store, f"ALTER TABLE {{db}}.access_events DELETE WHERE event_id = '{rows[20]['event_id']}'")
    report = verify(store)
    assert named(report) == {("missing", 21, ""), ("forged", 0, rows[20]["event_id"])}
    assert report.problems[0].detail == "sequences 21..21 absent"


def test_deleted_tail_is_missing_up_to_the_checkpoint(
    store: EvidenceStore, rows: list[Row]
) -> None:
    for table in ("access_events", "access_by_patient"):  # a thorough deleter
        sql(store, f"ALTER TABLE {{db}}.{table} DELETE WHERE event_id >= '{rows[57]['event_id']}'")
    report = verify(store)
    assert named(report) == {("missing", 58, "")}
    assert report.problems[0].detail == "sequences 58..60 absent"


@pytest.mark.parametrize("forged_id", ["0" * 32, "f" * 32, "aaa-forged", "zzz-forged"])
def test_inserted_row_is_named_whatever_its_sort_position(
    store: EvidenceStore, rows: list[Row], forged_id: str
) -> None:
    forged = reseal(rows[9], event_id=forged_id, decision="allow", sub="mallory")
    store.insert_rows([forged], dedup_token="forged")
    report = verify(store)
    assert {event_id for _, _, event_id in named(report)} == {forged_id}
    assert {seq for _, seq, _ in named(report)} == {10}


def test_a_sealed_event_at_sequence_0_is_named(store: EvidenceStore, rows: list[Row]) -> None:
    """Chains start at 1: a forger's event at sequence 0, its hash right for that position,
    written into the table directly (insert_rows refuses sequence 0), is still named."""
    forged = reseal(rows[3], sequence=0, event_id="e" * 32, sub="mallory")
    block = orjson.dumps([forged])
    store.raw_insert("access_events", list(forged), block, "JSONEachRow")
    report = verify(store)
    # and, written around the ingest path, it has no by-patient index entry
    assert named(report) == {("forged", 0, "e" * 32), ("missing", 0, "e" * 32)}


def test_reordered_rows_are_named(store: EvidenceStore, rows: list[Row]) -> None:
    a, b = rows[19], rows[20]
    for row, seq, prev in ((a, 21, b["prev_hash"]), (b, 20, a["prev_hash"])):
        sql(
            store,
            f"ALTER TABLE {{db}}.access_events UPDATE sequence = {seq}, "
            f"prev_hash = '{prev}' WHERE event_id = '{row['event_id']}'",
        )
    problems = named(verify(store))
    assert ("reordered", 20, b["event_id"]) in problems
    assert ("reordered", 21, a["event_id"]) in problems
    assert {event_id for _, _, event_id in problems} == {a["event_id"], b["event_id"]}


def test_a_consistently_rewritten_tail_is_caught_by_the_checkpoint(
    store: EvidenceStore, rows: list[Row]
) -> None:
    """The forger re-seals every event from 50 on: the chain links again, only the signed
    root tells, and the sealed leaves name each rewritten event."""
    prev = rows[48]["event_hash"]
    for row in rows[49:]:
        forged = reseal(row, prev_hash=prev, decision="deny")
        replace_row(store, row, forged)
        prev = forged["event_hash"]
    report = verify(store)
    assert named(report) == {("forged", n, rows[n - 1]["event_id"]) for n in range(50, 61)}


def test_rewriting_the_sealed_leaves_as_well_leaves_the_root_unexplained(
    store: EvidenceStore, rows: list[Row]
) -> None:
    victim = rows[44]
    replace_row(store, victim, reseal(victim, decision="deny"))
    sql(
        store,
        "ALTER TABLE {db}.merkle_nodes UPDATE hash = unhex(repeat('00', 32)) "
        "WHERE level = 0 AND idx = 44",
    )
    kinds = {kind for kind, _, _ in named(verify(store))}
    assert kinds == {"checkpoint.root", "forged"}  # the root, and the broken link at 46


def _checkpoint_rows(store: EvidenceStore) -> list[Row]:
    return store.select(f"SELECT * FROM {store.database}.checkpoints FINAL ORDER BY tree_size", {})


def test_broken_checkpoint_signature(store: EvidenceStore) -> None:
    first = _checkpoint_rows(store)[0]
    signature = bytearray(base64.b64decode(first["signature"]))
    signature[0] ^= 1
    sql(
        store,
        f"ALTER TABLE {{db}}.checkpoints UPDATE signature = "
        f"'{base64.b64encode(bytes(signature)).decode()}' WHERE tree_size = 40",
    )
    problems = verify(store).problems
    assert [(p.kind, p.sequence) for p in problems] == [("checkpoint.signature", 40)]
    assert "signature invalid" in problems[0].detail


def test_checkpoint_root_edited_in_the_signed_body(store: EvidenceStore) -> None:
    first = _checkpoint_rows(store)[0]
    cp = decode_body(first["body"].encode())
    forged = encode_body(
        cp.__class__(cp.producer_id, cp.tree_size, b"\x01" * 32, cp.time_us, cp.head, cp.previous)
    ).decode()
    sql(
        store,
        f"ALTER TABLE {{db}}.checkpoints UPDATE body = '{forged}', "
        f"root = '{'01' * 32}' WHERE tree_size = 40",
    )
    kinds = [(p.kind, p.sequence) for p in verify(store).problems]
    assert kinds == [("checkpoint.signature", 40), ("checkpoint.chain", 60)]


def test_checkpoint_columns_and_frontier_must_agree_with_the_body(store: EvidenceStore) -> None:
    sql(store, f"ALTER TABLE {{db}}.checkpoints UPDATE root = '{'02' * 32}' WHERE tree_size = 40")
    sql(store, "ALTER TABLE {db}.checkpoints UPDATE frontier = ['00'] WHERE tree_size = 60")
    problems = [(p.kind, p.sequence, p.detail.split(": ")[1]) for p in verify(store).problems]
    assert problems == [
        ("checkpoint.altered", 40, "its columns differ from its signed body"),
        ("checkpoint.altered", 60, "its stored frontier does not fold to its signed root"),
    ]


def test_a_deleted_checkpoint_breaks_the_checkpoint_chain(store: EvidenceStore) -> None:
    sql(store, "ALTER TABLE {db}.checkpoints DELETE WHERE tree_size = 40")
    assert [(p.kind, p.sequence) for p in verify(store).problems] == [("checkpoint.chain", 60)]


def test_an_unknown_signing_key_is_reported(store: EvidenceStore) -> None:
    problems = verify_store(store, *ALL, keys={}).problems
    assert [(p.kind, p.sequence) for p in problems] == [
        ("checkpoint.signature", 40),
        ("checkpoint.signature", 60),
    ]


def test_a_window_starts_from_the_checkpoint_before_it(
    store: EvidenceStore, rows: list[Row]
) -> None:
    since = BASE_US + 50 * SECOND_US
    report = verify(store, since)
    assert report.intact and (report.events_checked, report.checkpoints_checked) == (20, 2)
    sql(
        store,
        f"ALTER TABLE {{db}}.access_events UPDATE decision = 'deny' "
        f"WHERE event_id IN ('{rows[4]['event_id']}', '{rows[54]['event_id']}')",
    )
    assert named(verify(store, since)) == {("altered", 55, rows[54]["event_id"])}


def test_values_the_engine_renders_differently_are_confirmed_by_the_core(
    evidence_store: EvidenceStore, id_style: str
) -> None:
    odd = [
        make_event(n, ts_us=BASE_US + n, route="/x\x01\u2028\x7f", sub='é\\"',
                   event_id=event_id(id_style, n))
        for n in (1, 2)
    ]  # fmt: skip
    evidence_store.insert_rows(sealed_rows(odd, "api-odd"), dedup_token="odd")
    report = verify_store(evidence_store, *ALL)
    assert report.intact and report.events_checked == 2


def test_a_far_away_forged_sequence_is_reported_without_walking_the_gap(
    store: EvidenceStore, rows: list[Row]
) -> None:
    far = 10**12
    forged = reseal(rows[59], sequence=far, event_id="f" * 32)
    store.insert_rows([forged], dedup_token="far")
    started = time.monotonic()
    problems = named(verify(store))
    assert time.monotonic() - started < 30
    assert ("missing", 61, "") in problems
