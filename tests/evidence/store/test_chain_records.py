"""`window_items` (numpy ordering and run cutting of fetched records) against the plain model:
feeding the same rows sorted, identical copies merged, one at a time. No store involved."""

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core.merkle import leaf_hash
from evidence.core.seal.trust import start_state, trusted_checkpoints
from evidence.core.seal.verify import ChainRow, ErasureRecord, ProducerResult, ProducerVerifier
from evidence.store.chain_records import RECORD_ALL, RECORD_ALL_DTYPE, distinct, window_items
from tests.evidence.core.seal.test_verify import (
    HEX_ROWS,
    KEYS,
    PRODUCER,
    drawn_erasure,
    seal,
    tampered,
)

Row = dict[str, Any]


def chain_row(row: Row) -> ChainRow:
    """Content confirmed unless edited in place (status 599): a forger's reseal is
    self-consistent, only its links can give it away."""
    ok = row["status"] != 599
    return ChainRow(row["sequence"], row["event_id"], row["prev_hash"], row["event_hash"], ok)


def records_of(rows: list[ChainRow]) -> np.ndarray:
    """The rows as the engine would send them (all plain: ids and hashes are hex)."""
    data = b"".join(
        RECORD_ALL.pack(1, r.sequence, int(r.content_ok), 1, bytes.fromhex(r.prev_hash),
                        bytes.fromhex(r.event_hash), bytes.fromhex(r.event_id),
                        leaf_hash(bytes.fromhex(r.event_hash)))
        for r in rows
    )  # fmt: skip
    return np.frombuffer(data, dtype=RECORD_ALL_DTYPE)


def verifier(at: list[int], erasures: dict[int, ErasureRecord]) -> ProducerVerifier:
    checkpoints, _ = seal(HEX_ROWS, at)
    result = ProducerResult()
    start = start_state(PRODUCER, None, KEYS, result)
    trusted = trusted_checkpoints(PRODUCER, None, start, checkpoints, KEYS, result)
    return ProducerVerifier(PRODUCER, start.edge, start.size, start.head, trusted, erasures,
                            result)  # fmt: skip


@settings(max_examples=150)
@given(st.lists(st.integers(1, 48), max_size=5, unique=True), st.data())
def test_window_items_verify_as_the_rows_one_by_one(at: list[int], data: st.DataObject) -> None:
    actions = ["delete", "bridge", "reseal", "twin", "copy", "edit"]
    rows = tampered(data, HEX_ROWS, actions, 4, twin_id="ff" * 16)
    fed = [chain_row(r) for r in rows]
    order = data.draw(st.permutations(range(len(fed))))  # the engine's order is any order
    records = records_of([fed[i] for i in order])
    erasures = drawn_erasure(data) if data.draw(st.booleans()) else {}

    def text_rows(sequences: set[int]) -> dict[int, list[Any]]:
        return {s: distinct([tuple(r) for r in fed if r.sequence == s]) for s in sequences}

    by_items = verifier(at, erasures)
    by_items.feed_all(window_items(records, text_rows))
    one_by_one = verifier(at, erasures)
    for row in distinct([tuple(r) for r in fed]):
        one_by_one.feed(ChainRow._make(row))
    last = max([len(HEX_ROWS), *at])
    a, b = by_items.finish(last), one_by_one.finish(last)
    assert (a.problems, a.events_checked, a.suspects, a.erased) == (
        b.problems, b.events_checked, b.suspects, b.erased,
    )  # fmt: skip
