"""The binary records `chain_reader` fetches (RowBinary, fixed width) and their ordering.

A record is what verification needs of one event: its sequence, whether the engine confirmed
its content (ok) and its ids and hashes are canonical hex (plain), the hashes and id as raw
bytes, and the event's RFC 6962 leaf hash. `Order` puts one producer's records of a window
of sequences in a slot per sequence (one producer's read); `window_items` orders a window's
records of one producer with numpy and cuts them into runs of linked rows (all producers'
read, which verification uses).
"""

import struct
from array import array
from collections.abc import Callable

import numpy as np

from evidence.core.seal.verify import RawRow, Run

# sequence, ok, plain, prev_hash, event_hash, event_id, leaf (the Merkle leaf hash)
RECORD = struct.Struct("<QBB32s32s16s32s")
HEAD = struct.Struct("<QBB112x")  # the first three fields of a record
RECORD_ALL = struct.Struct("<HQBB32s32s16s32s")  # the producer's number (1-based) first
FIXED = ", ".join(
    [
        f"toFixedString(substring(unhex({name}), 1, {size}), {size})"
        for name, size in (("prev_hash", 32), ("event_hash", 32), ("event_id", 16))
    ]
    # RFC 6962 leaf hash, computed while the engine has the row (used only for plain rows)
    + ["SHA256(concat(char(0), unhex(event_hash)))"]
)
# RECORD_ALL as a numpy record; the hashes also as four 64-bit words, to compare them.
RECORD_ALL_DTYPE = np.dtype(
    {
        "names": ["number", "seq", "ok", "plain", "prev", "hash", "id", "leaf", "prev_w", "hash_w"],
        "formats": ["<u2", "<u8", "u1", "u1", "V32", "V32", "V16", "V32", ("<u8", 4), ("<u8", 4)],
        "offsets": [0, 2, 10, 11, 12, 44, 76, 92, 12, 44],
        "itemsize": RECORD_ALL.size,
    }
)
PLAIN = (
    "(length(prev_hash) = 64 AND lower(hex(unhex(prev_hash))) = prev_hash "
    "AND length(event_hash) = 64 AND lower(hex(unhex(event_hash))) = event_hash "
    "AND length(event_id) = 32 AND lower(hex(unhex(event_id))) = event_id)"
)


class Order:
    """A window of one producer's sequences [low, high]: the record index in each slot (-1:
    none), the sequences held by more than one record, those needing the slow path."""

    __slots__ = ("crowded", "low", "slots", "special")

    def __init__(self, low: int, high: int) -> None:
        self.low = low
        self.slots = array("q", [-1]) * max(0, high - low + 1)
        self.crowded: dict[int, list[int]] = {}
        self.special: set[int] = set()


def record(data: bytes, index: int, layout: struct.Struct = RECORD) -> RawRow:
    """A fetched record as a row. Records the engine did not confirm are re-read as text;
    one that was not (the text re-read found no row at its sequence) counts as altered."""
    *_, seq, ok, plain, prev, event_hash, event_id, leaf = layout.unpack_from(
        data, index * layout.size
    )
    return seq, event_id.hex(), prev.hex(), event_hash.hex(), bool(ok and plain), leaf


def distinct(rows: list[RawRow]) -> list[RawRow]:
    """Sorted, identical copies (re-inserts of one event) dropped."""
    ordered = sorted(rows)
    return [row for i, row in enumerate(ordered) if i == 0 or row != ordered[i - 1]]


def window_items(
    records: np.ndarray, text_rows: Callable[[set[int]], dict[int, list[RawRow]]]
) -> list[RawRow | Run]:
    """One producer's records of a window (RECORD_ALL_DTYPE) in sequence order, as runs of
    linked fast-path rows and, between them, single rows: read again as text where a record
    is not confirmed or not canonical (`text_rows`), identical copies of one event merged."""
    records = records[np.argsort(records["seq"], kind="stable")]
    seq, count = records["seq"], len(records)
    repeated = np.zeros(count, dtype=bool)
    same = seq[1:] == seq[:-1]
    repeated[1:] |= same
    repeated[:-1] |= same
    confirmed = (records["ok"] == 1) & (records["plain"] == 1)
    fast = confirmed & ~repeated
    linked = np.zeros(count, dtype=bool)
    linked[1:] = (
        fast[1:] & fast[:-1] & (seq[1:] == seq[:-1] + 1)
        & (records["prev_w"][1:] == records["hash_w"][:-1]).all(axis=1)
    )  # fmt: skip
    text = text_rows(set(seq[~confirmed].tolist()))
    at = np.flatnonzero(~linked)  # where each item starts
    starts, seqs, runs = at.tolist(), seq[at].tolist(), fast[at].tolist()
    stops = [*starts[1:], count]
    items: list[RawRow | Run] = []
    i = 0
    while i < len(starts):
        if runs[i]:
            items.append(_run(records[starts[i] : stops[i]]))
            i += 1
            continue
        j = i + 1  # the copies of one sequence are adjacent, each an item start
        while j < len(starts) and seqs[j] == seqs[i]:
            j += 1
        if seqs[i] in text:
            items.extend(text[seqs[i]])
        else:
            items.extend(distinct([_raw(r) for r in records[starts[i] : stops[j - 1]]]))
        i = j
    return items


def _run(records: np.ndarray) -> Run:
    return Run(
        int(records["seq"][0]), bytes(records["prev"][0]).hex(), records["id"].tolist(),
        records["hash"].tolist(), records["leaf"].tolist(),
    )  # fmt: skip


def _raw(one: np.void) -> RawRow:
    """As `record`, for a numpy record."""
    return (
        int(one["seq"]), bytes(one["id"]).hex(), bytes(one["prev"]).hex(),
        bytes(one["hash"]).hex(), bool(one["ok"] and one["plain"]), bytes(one["leaf"]),
    )  # fmt: skip
