"""Bulk reads for verification: a producer's events in sequence order, content-checked.

The content check runs in the engine: the canonical JSON of the payload is rebuilt in SQL
(keys sorted, `toJSONString` per value) and hashed with the chain's SHA-256 framing, so only
fixed-size records cross into Python (`chain_records`: sequence, ok, whether ids and hashes
are canonical hex, the hashes and id as bytes, the Merkle leaf hash). The SQL rendering is a
fast path, not the definition: every row it does not confirm is re-checked with the exact
canonical encoding of `evidence.core` (strings with control characters, for instance, are
escaped differently by the engine), so a row is reported altered only by the core.
"""

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

import numpy as np

from evidence.core.record import PAYLOAD_FIELDS_BY_VERSION, row_matches_hash
from evidence.core.seal.verify import RawRow, Run
from evidence.store.chain_records import (
    FIXED,
    HEAD,
    PLAIN,
    RECORD,
    RECORD_ALL_DTYPE,
    Order,
    distinct,
    record,
    window_items,
)
from evidence.store.chain_text import parse_text_row
from evidence.store.clickhouse import EvidenceStore
from evidence.store.columns import READ_COLUMNS
from evidence.store.engine_queue import EngineQueue

PAGE_ROWS = 1_000_000  # sequences per read (122 bytes each in memory)
WINDOW_RECORDS = 4_000_000  # records of all producers per read in `windows_of_all`
_JSON_SETTINGS = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_escape_forward_slashes": 0,
    "output_format_json_quote_denormals": 0,
    # More streams than cores: measured 35 % faster for the hashing reads on two cores.
    "max_threads": max(4, os.cpu_count() or 1),
}


def canonical_json_sql(fields: Sequence[str]) -> str:
    """SQL for the canonical JSON object of these columns (the core's key order)."""
    parts: list[str] = []
    for i, name in enumerate(sorted(fields)):
        parts.append(f"'{',' if i else '{'}\"{name}\":'")
        parts.append(f"toJSONString({name})")
    return f"concat({', '.join(parts)}, '}}')"


def content_ok_sql() -> str:
    branches = ", ".join(
        f"schema_version = {version}, {canonical_json_sql(fields)}"
        for version, fields in sorted(PAYLOAD_FIELDS_BY_VERSION.items())
    )
    framed = (
        "concat('fhir-evidence/chain/v1', char(0), producer_id, char(0), toString(sequence), "
        f"char(0), prev_hash, char(0), multiIf({branches}, ''))"
    )
    return f"lower(hex(SHA256({framed}))) = event_hash"


class ChainReader:
    def __init__(
        self,
        store: EvidenceStore,
        page_rows: int | None = None,
        engine: EngineQueue[Any] | None = None,
    ) -> None:
        self.store = store
        self._db = store.database
        self._page = page_rows or PAGE_ROWS
        self._ok = content_ok_sql()
        self._engine = engine  # if given: the next window is read while this one is checked

    def sequence_ranges(self, since_us: int, until_us: int) -> dict[str, tuple[int, int]]:
        """Per producer, the first and last sequence of the events in the time window."""
        sql = (
            f"SELECT producer_id, min(sequence), max(sequence) FROM {self._db}.access_events "
            "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64} GROUP BY producer_id"
        )
        data = self.store.raw_query(sql, {"s": since_us, "u": until_us}, fmt="TabSeparated")
        out: dict[str, tuple[int, int]] = {}
        for line in data.decode("utf-8").splitlines():
            producer, low, high = line.split("\t")
            out[producer] = (int(low), int(high))
        return out

    def sequence_zero(self, since_us: int, until_us: int) -> list[tuple[str, str]]:
        """(producer, event_id) of the events of the window stored at sequence 0: chains
        start at 1, so no verifier span reaches them, and each is a forgery."""
        sql = (
            f"SELECT DISTINCT producer_id, event_id FROM {self._db}.access_events "
            "WHERE sequence = 0 AND ts_us >= {s:Int64} AND ts_us < {u:Int64} ORDER BY 1, 2"
        )
        rows = self.store.select(sql, {"s": since_us, "u": until_us})
        return [(str(r["producer_id"]), str(r["event_id"])) for r in rows]

    def rows(self, producer: str, low: int, high: int) -> Iterator[RawRow]:
        """Events of sequences [low, high] in (sequence, event_id) order, identical
        re-inserted copies dropped, a window of sequences at a time."""
        bounds = [(w, min(w + self._page - 1, high)) for w in self._windows(producer, low, high)]
        fetch = [partial(self._fetch, producer, first, last) for first, last in bounds]
        for (first, last), data in zip(bounds, self._prefetched(fetch), strict=True):
            yield from self._records(producer, first, last, data)

    def windows_of_all(
        self, spans: dict[str, tuple[int, int]]
    ) -> Iterator[dict[str, list[RawRow | Run]]]:
        """Every producer's events of its span [low, high] at once, a window of sequences at
        a time: one scan of `access_events` per window for all producers (the table is not
        sorted by producer, so a scan per producer would read it all again each time). Each
        window maps a producer to its rows in (sequence, event_id) order, as runs of linked
        rows and single rows (`window_items`)."""
        producers = sorted(p for p, (low, high) in spans.items() if high >= low)
        if not producers:
            return
        width = max(1, WINDOW_RECORDS // len(producers))
        low = min(spans[p][0] for p in producers)
        high = max(spans[p][1] for p in producers)
        starts = self._starts(producers, low, high, width)
        fetch = [partial(self._fetch_all, producers, w, min(w + width - 1, high)) for w in starts]
        for first, data in zip(starts, self._prefetched(fetch), strict=True):
            yield self._split(producers, spans, first, min(first + width - 1, high), data)

    def _prefetched(self, fetch: Sequence[Callable[[], bytes]]) -> Iterator[bytes]:
        """Each read's result in turn, the next read running on the store thread while the
        caller checks this one (with an index-check filler slotted in between)."""
        pending = self._submit(fetch[0]) if fetch else None
        for i in range(len(fetch)):
            if pending is None:  # submitted above and below for every window fetched
                raise RuntimeError("chain window read was not submitted")
            data = pending.result()
            if i + 1 < len(fetch):
                pending = self._submit(fetch[i + 1])
            if self._engine is not None:
                self._engine.fill_one()
            yield data

    def _submit(self, work: Callable[[], bytes]) -> "Future[bytes]":
        if self._engine is not None:
            return self._engine.submit(work)
        done: Future[bytes] = Future()
        done.set_result(work())
        return done

    def _starts(self, producers: list[str], low: int, high: int, width: int) -> list[int]:
        sql = (
            "SELECT DISTINCT intDiv(sequence - {l:UInt64}, {n:UInt64}) AS w "
            f"FROM {self._db}.access_events WHERE producer_id IN {{ps:Array(String)}} "
            "AND sequence >= {l:UInt64} AND sequence <= {h:UInt64} ORDER BY w"
        )
        params = {"ps": producers, "l": low, "h": high, "n": width}
        data = self.store.raw_query(sql, params, fmt="TabSeparated")
        return [low + int(line) * width for line in data.decode("ascii").split()]

    def _fetch_all(self, producers: list[str], low: int, high: int) -> bytes:
        sql = (
            "SELECT toUInt16(indexOf({ps:Array(String)}, producer_id)), sequence, "
            f"toUInt8({self._ok}), toUInt8({PLAIN}), {FIXED} FROM {self._db}.access_events "
            "WHERE producer_id IN {ps:Array(String)} "
            "AND sequence >= {l:UInt64} AND sequence <= {h:UInt64}"
        )
        params = {"ps": producers, "l": low, "h": high}
        return self.store.raw_query(sql, params, fmt="RowBinary", settings=_JSON_SETTINGS)

    def _split(
        self, producers: list[str], spans: dict[str, tuple[int, int]], low: int, high: int,
        data: bytes,
    ) -> dict[str, list[RawRow | Run]]:  # fmt: skip
        """Each producer's records of the window, in order (`window_items`)."""
        records = np.frombuffer(data, dtype=RECORD_ALL_DTYPE)
        out: dict[str, list[RawRow | Run]] = {}
        seq = records["seq"]
        for number, producer in enumerate(producers, start=1):
            first, last = max(low, spans[producer][0]), min(high, spans[producer][1])
            mine = records[(records["number"] == number) & (seq >= first) & (seq <= last)]
            if len(mine):
                out[producer] = window_items(mine, partial(self._text_rows, producer))
        return out

    def _windows(self, producer: str, low: int, high: int) -> list[int]:
        """The first sequence of every window that holds a row (a forged sequence far
        beyond the others must not make the reader walk the empty space in between)."""
        sql = (
            f"SELECT DISTINCT intDiv(sequence - {{l:UInt64}}, {{n:UInt64}}) AS w "
            f"FROM {self._db}.access_events WHERE producer_id = {{p:String}} "
            "AND sequence >= {l:UInt64} AND sequence <= {h:UInt64} ORDER BY w"
        )
        params = {"p": producer, "l": low, "h": high, "n": self._page}
        data = self.store.raw_query(sql, params, fmt="TabSeparated")
        return [low + int(line) * self._page for line in data.decode("ascii").split()]

    def _fetch(self, producer: str, low: int, high: int) -> bytes:
        """One unordered scan of a window as fixed-size binary records (an ORDER BY would
        hash after sorting, on one thread)."""
        sql = (
            f"SELECT sequence, toUInt8({self._ok}), toUInt8({PLAIN}), {FIXED} "
            f"FROM {self._db}.access_events WHERE producer_id = {{p:String}} "
            "AND sequence >= {l:UInt64} AND sequence <= {h:UInt64}"
        )
        params = {"p": producer, "l": low, "h": high}
        return self.store.raw_query(sql, params, fmt="RowBinary", settings=_JSON_SETTINGS)

    def _records(self, producer: str, low: int, high: int, data: bytes) -> Iterator[RawRow]:
        order = Order(low, high)
        for index, (seq, ok, plain) in enumerate(HEAD.iter_unpack(data)):
            if low <= seq <= high:
                held = order.slots[seq - low]
                if held < 0:
                    order.slots[seq - low] = index
                else:
                    order.crowded.setdefault(seq, [held]).append(index)
                if not (ok and plain):
                    order.special.add(seq)
        return self._in_order(producer, order, data, RECORD)

    def _in_order(
        self, producer: str, order: Order, data: bytes, layout: struct.Struct
    ) -> Iterator[RawRow]:
        """A producer's fetched records in sequence order (a slot per sequence). Sequences
        holding a row the fast path cannot take (ids or hashes not canonical hex, content
        not confirmed by the SQL rendering) are read again as text and checked by the core."""
        text = self._text_rows(producer, order.special)
        crowded, low = order.crowded, order.low
        for offset, index in enumerate(order.slots):
            if index < 0:
                continue
            seq = low + offset
            if seq in text:
                yield from text[seq]
            elif seq in crowded:
                yield from distinct([record(data, i, layout) for i in crowded[seq]])
            else:
                yield record(data, index, layout)

    def _text_rows(self, producer: str, sequences: set[int]) -> dict[int, list[RawRow]]:
        """The rows of these sequences as text, content re-checked exactly where the SQL
        rendering did not confirm it."""
        if not sequences:
            return {}
        sql = (
            f"SELECT sequence, event_id, prev_hash, event_hash, {self._ok} "
            f"FROM {self._db}.access_events WHERE producer_id = {{p:String}} "
            "AND sequence IN {s:Array(UInt64)}"
        )
        params = {"p": producer, "s": sorted(sequences)}
        data = self.store.raw_query(sql, params, fmt="TabSeparated", settings=_JSON_SETTINGS)
        rows: list[RawRow] = [parse_text_row(line) for line in data.decode("utf-8").splitlines()]
        doubtful = [row[1] for row in rows if not row[4]]
        if doubtful:
            confirmed = {
                (int(row["sequence"]), str(row["event_id"]))
                for row in self._full_rows(producer, doubtful)
                if row_matches_hash(row)
            }
            rows = [(*r[:4], True, None) if (r[0], r[1]) in confirmed else r for r in rows]
        out: dict[int, list[RawRow]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(row)
        return {seq: distinct(group) for seq, group in out.items()}

    def _full_rows(self, producer: str, event_ids: list[str]) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {', '.join(READ_COLUMNS)} FROM {self._db}.access_events FINAL "
            "WHERE producer_id = {p:String} AND event_id IN {ids:Array(String)}"
        )
        return self.store.select(sql, {"p": producer, "ids": event_ids})

    def erase_events(self) -> list[dict[str, Any]]:
        """The erasure events of the chain (action `evidence.erase`)."""
        sql = (
            f"SELECT producer_id, sequence, event_id, policy_version FROM {self._db}.access_events "
            "FINAL WHERE action = 'evidence.erase'"
        )
        return self.store.select(sql, {})
