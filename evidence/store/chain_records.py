"""The binary records `chain_reader` fetches (RowBinary, fixed width) and their ordering.

A record is what verification needs of one event: its sequence, whether the engine confirmed
its content (ok) and its ids and hashes are canonical hex (plain), the hashes and id as raw
bytes, and the event's RFC 6962 leaf hash. `Order` puts one producer's records of a window
of sequences in a slot per sequence.
"""

import struct
from array import array

from evidence.core.seal_verify import RawRow

# sequence, ok, plain, prev_hash, event_hash, event_id, leaf (the Merkle leaf hash)
RECORD = struct.Struct("<QBB32s32s16s32s")
HEAD = struct.Struct("<QBB112x")  # the first three fields of a record
RECORD_ALL = struct.Struct("<HQBB32s32s16s32s")  # the producer's number (1-based) first
HEAD_ALL = struct.Struct("<HQBB112x")
FIXED = ", ".join(
    [
        f"toFixedString(substring(unhex({name}), 1, {size}), {size})"
        for name, size in (("prev_hash", 32), ("event_hash", 32), ("event_id", 16))
    ]
    # RFC 6962 leaf hash, computed while the engine has the row (used only for plain rows)
    + ["SHA256(concat(char(0), unhex(event_hash)))"]
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

    def filled(self) -> bool:
        return self.slots.count(-1) != len(self.slots)


def record(data: bytes, index: int, layout: struct.Struct = RECORD) -> RawRow:
    *_, seq, _ok, _plain, prev, event_hash, event_id, leaf = layout.unpack_from(
        data, index * layout.size
    )
    return seq, event_id.hex(), prev.hex(), event_hash.hex(), True, leaf


def distinct(rows: list[RawRow]) -> list[RawRow]:
    """Sorted, identical copies (re-inserts of one event) dropped."""
    ordered = sorted(rows)
    return [row for i, row in enumerate(ordered) if i == 0 or row != ordered[i - 1]]
