"""`window_items` (numpy ordering and run cutting of fetched records) against the plain model:
feeding the same rows sorted, identical copies merged, one at a time. No store involved."""

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core.merkle import leaf_hash
from evidence.core.seal_trust import start_state, trusted_checkpoints
from evidence.core.seal_verify import ChainRow, ErasureRecord, ProducerResult, ProducerVerifier
from evidence.store.chain_records import RECORD_ALL, RECORD_ALL_DTYPE, distinct, window_items
from tests.evidence.core.test_seal_verify import HEX_ROWS, KEYS, PRODUCER, seal
from tests.evidence.core.test_verify import reseal

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
    rows = list(HEX_ROWS)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(rows) - 1))
        action = data.draw(st.sampled_from(["delete", "bridge", "reseal", "twin", "copy", "edit"]))
        if action == "delete":
            del rows[i]
        elif action == "bridge" and 0 < i < len(rows) - 1:  # delete, relink the next one over it
            rows[i + 1] = reseal(rows[i + 1], prev_hash=rows[i - 1]["event_hash"])
            del rows[i]
        elif action == "reseal":
            rows[i] = reseal(rows[i], decision="deny")
        elif action == "twin":
            rows.insert(i, reseal(rows[i], event_id="ff" * 16, status=404))
        elif action == "copy":
            rows.insert(i, dict(rows[i]))  # a re-delivered copy
        else:
            rows[i] = {**rows[i], "status": 599}
    fed = [chain_row(r) for r in rows]
    order = data.draw(st.permutations(range(len(fed))))  # the engine's order is any order
    records = records_of([fed[i] for i in order])
    erasures: dict[int, ErasureRecord] = {}
    if data.draw(st.booleans()):
        erased = HEX_ROWS[data.draw(st.integers(0, 47))]
        recorded = data.draw(st.sampled_from([erased["event_hash"], "ab" * 32]))
        erasures[erased["sequence"]] = ErasureRecord(
            "e" * 32, erased["sequence"], recorded, erased["event_id"], "api-test/99"
        )

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
