"""The pure checkpoint verification: any chain with checkpoints anywhere verifies; one
deleted, rewritten, erased or re-recorded event is named exactly, and nothing else is."""

import hashlib
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core.frontier import Node, TreeEdge
from evidence.core.merkle import leaf_hash
from evidence.core.problems import ChainProblem
from evidence.core.seal.checkpoint import Checkpoint, sign_checkpoint
from evidence.core.seal.diagnosis import diagnose, erasure_backing, settle
from evidence.core.seal.rows import StoredCheckpoint, checkpoint_row, stored_checkpoint
from evidence.core.seal.trust import start_state, trusted_checkpoints
from evidence.core.seal.verify import (
    ChainRow,
    ErasureRecord,
    ProducerResult,
    ProducerVerifier,
    RawRow,
    Run,
)
from tests.evidence.builders import chain_of, make_event, sealed_rows
from tests.evidence.core.test_verify import reseal

PRODUCER = "api-test"
ROWS = chain_of(48)


class Signer:
    key_id = "k"

    def sign(self, message: bytes) -> bytes:
        return hashlib.sha256(b"k" + message).digest()


def check(message: bytes, signature: bytes) -> bool:
    return signature == hashlib.sha256(b"k" + message).digest()


KEYS = {"k": check}


def seal(rows: list[dict[str, Any]], sizes: list[int]) -> tuple[list[StoredCheckpoint], dict]:
    """Checkpoints at `sizes` over the genuine rows, and the sealed leaves by index."""
    edge, nodes, stored, previous = TreeEdge(), list[Node](), [], "0" * 64
    for size in sorted(sizes):
        while edge.size < size:
            edge.append_data(bytes.fromhex(rows[edge.size]["event_hash"]), nodes)
        head = rows[size - 1]["event_hash"]
        cp = Checkpoint(PRODUCER, size, edge.root(), 1000 + len(stored), head, previous)
        signed = sign_checkpoint(cp, Signer())
        stored.append(stored_checkpoint(checkpoint_row(signed, edge.hashes)))
        previous = signed.body_hash
    sealed = {index: [h] for level, index, h in nodes if level == 0}
    return stored, sealed


def chain_rows(rows: list[dict[str, Any]], ok: set[str] | None = None) -> list[ChainRow]:
    genuine = {r["event_id"]: r["event_hash"] for r in ROWS}
    return [
        ChainRow(r["sequence"], r["event_id"], r["prev_hash"], r["event_hash"],
                 r["event_hash"] == genuine.get(r["event_id"]) or r["event_id"] in (ok or set()))
        for r in sorted(rows, key=lambda r: (r["sequence"], r["event_id"]))
    ]  # fmt: skip


def run(
    rows: list[ChainRow],
    checkpoints: list[StoredCheckpoint],
    sealed: dict,
    erasures: dict[int, ErasureRecord] | None = None,
    one_by_one: bool = False,
    rows_for_diagnosis: list[ChainRow] | None = None,
) -> tuple[list[ChainProblem], ProducerResult]:
    result = ProducerResult()
    start = start_state(PRODUCER, None, KEYS, result)
    trusted = trusted_checkpoints(PRODUCER, None, start, checkpoints, KEYS, result)
    verifier = ProducerVerifier(PRODUCER, start.edge, start.size, start.head, trusted,
                                erasures, result)  # fmt: skip
    if one_by_one:
        for row in rows:
            verifier.feed(row)
    else:
        verifier.feed_all(rows)
    rows = rows_for_diagnosis if rows_for_diagnosis is not None else rows
    last = max([rows[-1].sequence if rows else 0, *(c.tree_size for c in checkpoints)])
    verifier.finish(last)
    diagnoses = [diagnose(PRODUCER, s, sealed, rows, erasures or {}) for s in result.suspects]
    return settle(result.problems, diagnoses), result


sizes = st.lists(st.integers(min_value=1, max_value=48), min_size=1, max_size=6, unique=True)


@given(sizes)
def test_any_checkpoints_over_an_intact_chain_verify(at: list[int]) -> None:
    checkpoints, sealed = seal(ROWS, at)
    problems, result = run(chain_rows(ROWS), checkpoints, sealed)
    assert problems == [] and result.suspects == []
    assert result.checkpoints_checked == len(at) and result.events_checked == 48


@settings(max_examples=40)
@given(sizes, st.integers(min_value=0, max_value=47))
def test_a_deleted_event_is_the_only_problem(at: list[int], index: int) -> None:
    checkpoints, sealed = seal(ROWS, at)
    rows = ROWS[:index] + ROWS[index + 1 :]
    problems, _ = run(chain_rows(rows), checkpoints, sealed)
    if index == 47 and max(at) < 48:
        assert problems == []  # an unsealed tail event: nothing says it existed
    else:
        assert [(p.kind, p.sequence) for p in problems] == [("missing", index + 1)]


@settings(max_examples=40)
@given(sizes, st.integers(min_value=0, max_value=46))
def test_a_rewritten_sealed_event_is_named_alone(at: list[int], index: int) -> None:
    at = [*at, 48] if 48 not in at else at
    checkpoints, sealed = seal(ROWS, at)
    forged = reseal(ROWS[index], decision="deny")
    rows = [*ROWS[:index], forged, *ROWS[index + 1 :]]
    problems, _ = run(chain_rows(rows, ok={forged["event_id"]}), checkpoints, sealed)
    assert [(p.kind, p.sequence, p.event_id) for p in problems] == [
        ("forged", index + 1, forged["event_id"])
    ]


def record(index: int, erasure_id: str = "e" * 32, recorded_by: str = "api-test/99",
           event_hash: str = "") -> ErasureRecord:  # fmt: skip
    row = ROWS[index]
    return ErasureRecord(erasure_id, row["sequence"], event_hash or row["event_hash"],
                         row["event_id"], recorded_by)  # fmt: skip


def test_erased_events_are_accounted_by_their_records() -> None:
    checkpoints, sealed = seal(ROWS, [20, 48])
    erased = {i + 1: record(i) for i in (4, 5, 30)}
    rows = [r for i, r in enumerate(ROWS) if i not in (4, 5, 30)]
    problems, result = run(chain_rows(rows), checkpoints, sealed, erased)
    assert problems == [] and result.suspects == []
    assert [seq for seq, _ in result.erased] == [5, 6, 31]


def test_an_unrecorded_erasure_is_named() -> None:
    checkpoints, sealed = seal(ROWS, [48])
    erased = {6: record(5, recorded_by="")}
    rows = [r for i, r in enumerate(ROWS) if i != 5]
    problems, _ = run(chain_rows(rows), checkpoints, sealed, erased)
    assert [(p.kind, p.sequence, p.event_id) for p in problems] == [
        ("erasure.unrecorded", 6, ROWS[5]["event_id"])
    ]


def test_an_erasure_record_with_another_hash_is_named() -> None:
    checkpoints, sealed = seal(ROWS, [48])
    erased = {6: record(5, event_hash="ab" * 32)}
    rows = [r for i, r in enumerate(ROWS) if i != 5]
    problems, _ = run(chain_rows(rows), checkpoints, sealed, erased)
    # the successor's broken link is not reported: the sealed leaves prove it genuine
    assert [(p.kind, p.sequence) for p in problems] == [("erasure.altered", 6)]


def test_erasure_backing_requires_the_exact_record_set() -> None:
    from evidence.core.erasure import ErasedEvent, erasure_digest, erasure_marker

    erasure_id = "a" * 32
    records = [
        {"erasure_id": erasure_id, "producer_id": PRODUCER, "sequence": r["sequence"],
         "event_hash": r["event_hash"], "event_id": r["event_id"], "reason": "art. 17"}
        for r in ROWS[3:5]
    ]  # fmt: skip
    digest = erasure_digest(erasure_id, "art. 17", [
        ErasedEvent(PRODUCER, r["sequence"], r["event_hash"], r["event_id"]) for r in ROWS[3:5]
    ])  # fmt: skip
    event = {"producer_id": PRODUCER, "sequence": 49, "event_id": erasure_id,
             "policy_version": erasure_marker(erasure_id, digest)}  # fmt: skip
    backing = erasure_backing(records, [event])
    assert backing.recorded_by == {erasure_id: f"{PRODUCER}/49"} and not backing.problems
    backing = erasure_backing(records[:1], [event])
    assert backing.altered == {erasure_id}
    assert [(p.kind, p.sequence) for p in backing.problems] == [("erasure.altered", 49)]
    assert erasure_backing(records, []).recorded_by == {}


def test_a_checkpoint_signed_by_no_published_key_is_not_relied_on() -> None:
    checkpoints, _ = seal(ROWS, [10, 48])
    result = ProducerResult()
    start = start_state(PRODUCER, None, {}, result)
    assert trusted_checkpoints(PRODUCER, None, start, checkpoints, {}, result) == []
    assert [p.kind for p in result.problems] == ["checkpoint.signature"] * 2


@settings(max_examples=60)
@given(sizes, st.data())
def test_the_inline_loop_equals_feeding_one_by_one(at: list[int], data: st.DataObject) -> None:
    checkpoints, sealed = seal(ROWS, at)
    rows = tampered(data, ROWS, ["delete", "reseal", "twin", "edit"], 3, twin_id="zz-twin")
    erased = {3: record(2)} if data.draw(st.booleans()) and len(rows) > 3 else {}
    fed = chain_rows(rows, ok={r["event_id"] for r in rows if r["status"] != 599})
    inline, a = run(fed, checkpoints, sealed, erased)
    single, b = run(fed, checkpoints, sealed, erased, one_by_one=True)
    assert inline == single
    assert (a.events_checked, a.suspects, a.erased) == (b.events_checked, b.suspects, b.erased)


HEX_ROWS = sealed_rows((make_event(n, event_id=f"{n:032x}") for n in range(1, 49)), PRODUCER)


def tampered(
    data: st.DataObject, rows: list[dict[str, Any]], actions: list[str], most: int, twin_id: str
) -> list[dict[str, Any]]:
    """A copy of `rows` after up to `most` drawn changes of the kinds in `actions`: delete,
    bridge (delete, and relink the next row over it; an edit where there is no next row),
    reseal (content changed, hash recomputed), twin (a resealed second row at the same
    sequence, id `twin_id`), copy (an identical re-delivery), edit (content changed in place:
    status 599)."""
    rows = list(rows)
    for _ in range(data.draw(st.integers(min_value=0, max_value=most))):
        i = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
        action = data.draw(st.sampled_from(actions))
        if action == "delete":
            del rows[i]
        elif action == "bridge" and 0 < i < len(rows) - 1:
            rows[i + 1] = reseal(rows[i + 1], prev_hash=rows[i - 1]["event_hash"])
            del rows[i]
        elif action == "reseal":
            rows[i] = reseal(rows[i], decision="deny")
        elif action == "twin":
            rows.insert(i, reseal(rows[i], event_id=twin_id, status=404))
        elif action == "copy":
            rows.insert(i, dict(rows[i]))
        else:
            rows[i] = {**rows[i], "status": 599}
    return rows


def drawn_erasure(data: st.DataObject) -> dict[int, ErasureRecord]:
    """An erasure record of one of HEX_ROWS, holding its hash or another one (altered)."""
    erased = HEX_ROWS[data.draw(st.integers(min_value=0, max_value=47))]
    recorded = data.draw(st.sampled_from([erased["event_hash"], "ab" * 32]))
    return {
        erased["sequence"]: ErasureRecord(
            "e" * 32, erased["sequence"], recorded, erased["event_id"], "api-test/99"
        )
    }


def as_runs(rows: list[ChainRow], cuts: set[int]) -> list[RawRow | Run]:
    """What the reader makes of rows: stretches of confirmed rows of consecutive, unrepeated
    sequences, each linked to the one before, as runs (also cut before positions in `cuts`);
    the other rows as they are."""
    counts = Counter(row.sequence for row in rows)
    items: list[RawRow | Run] = []
    stretch: list[ChainRow] = []

    def close() -> None:
        if stretch:
            items.append(Run(
                stretch[0].sequence, stretch[0].prev_hash,
                [bytes.fromhex(r.event_id) for r in stretch],
                [bytes.fromhex(r.event_hash) for r in stretch],
                [leaf_hash(bytes.fromhex(r.event_hash)) for r in stretch],
            ))  # fmt: skip
            stretch.clear()

    for position, row in enumerate(rows):
        if not (row.content_ok and counts[row.sequence] == 1):
            close()
            items.append(tuple(row))  # type: ignore[arg-type]
            continue
        last = stretch[-1] if stretch else None
        if (
            last is None
            or position in cuts
            or row.sequence != last.sequence + 1
            or (row.prev_hash != last.event_hash)
        ):
            close()
        stretch.append(row)
    close()
    return items


@settings(max_examples=80)
@given(sizes, st.data())
def test_runs_equal_feeding_one_by_one(at: list[int], data: st.DataObject) -> None:
    """Runs taken whole, cut at checkpoints, erasure records and broken links, give what
    feeding each row gives."""
    checkpoints, sealed = seal(HEX_ROWS, at)
    rows = tampered(data, HEX_ROWS, ["delete", "reseal", "twin", "edit"], 3, twin_id="ff" * 16)
    genuine = {r["event_id"]: r["event_hash"] for r in HEX_ROWS}
    fed = [
        ChainRow(r["sequence"], r["event_id"], r["prev_hash"], r["event_hash"],
                 r["status"] != 599 and (r["event_hash"] == genuine.get(r["event_id"])
                                         or r["status"] == 404))
        for r in sorted(rows, key=lambda r: (r["sequence"], r["event_id"]))
    ]  # fmt: skip
    erasures = drawn_erasure(data) if data.draw(st.booleans()) and len(rows) > 3 else {}
    cuts = set(data.draw(st.lists(st.integers(min_value=0, max_value=len(fed)), max_size=4)))
    items = as_runs(fed, cuts)
    by_runs, a = run(items, checkpoints, sealed, erasures, rows_for_diagnosis=fed)  # type: ignore[arg-type]
    single, b = run(fed, checkpoints, sealed, erasures, one_by_one=True)
    assert by_runs == single
    assert (a.events_checked, a.suspects, a.erased) == (b.events_checked, b.suspects, b.erased)
