"""Bulk reads for verification: a producer's events in sequence order, content-checked.

The content check runs in the engine: the canonical JSON of the payload is rebuilt in SQL
(keys sorted, `toJSONString` per value) and hashed with the chain's SHA-256 framing, so only
(sequence, event_id, prev_hash, event_hash, ok) cross into Python. The SQL rendering is a
fast path, not the definition: every row it does not confirm is re-checked with the exact
canonical encoding of `evidence.core` (strings with control characters, for instance, are
escaped differently by the engine), so a row is reported altered only by the core.
"""

import struct
from collections.abc import Iterator, Sequence
from typing import Any

from evidence.core.chain import chain_hash
from evidence.core.problems import ChainProblem
from evidence.core.record import PAYLOAD_FIELDS_BY_VERSION, payload_from_row
from evidence.core.seal_verify import ChainRow, RawRow
from evidence.store.clickhouse import READ_COLUMNS, EvidenceStore

PAGE_ROWS = 250_000  # sequences per read
_BINARY_ROW = struct.Struct("<QB32s32s16s")  # sequence, ok, prev_hash, event_hash, event_id
_PLAIN = (
    "(length(prev_hash) = 64 AND lower(hex(unhex(prev_hash))) = prev_hash "
    "AND length(event_hash) = 64 AND lower(hex(unhex(event_hash))) = event_hash "
    "AND length(event_id) = 32 AND lower(hex(unhex(event_id))) = event_id)"
)
_JSON_SETTINGS = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_escape_forward_slashes": 0,
    "output_format_json_quote_denormals": 0,
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
    def __init__(self, store: EvidenceStore, page_rows: int = PAGE_ROWS) -> None:
        self.store = store
        self._db = store.database
        self._page = page_rows
        self._ok = content_ok_sql()

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

    def rows(self, producer: str, low: int, high: int) -> Iterator[RawRow]:
        """Events of sequences [low, high] in (sequence, event_id) order, a window of
        sequences at a time. Sorting and dropping identical re-inserts happen here: an
        ORDER BY or FINAL in the engine would cost more than the hashing."""
        for first in range(low, high + 1, self._page):
            last = min(first + self._page - 1, high)
            yield from self._confirm(
                producer, _in_order(first, self._page_of(producer, first, last))
            )

    def _page_of(self, producer: str, low: int, high: int) -> list[RawRow]:
        """Rows whose ids and hashes are canonical lowercase hex (all the API writes) come as
        fixed-size binary records (cheap to unpack); any other row as escaped text."""
        where = (
            f"FROM {self._db}.access_events WHERE producer_id = {{p:String}} "
            "AND sequence >= {l:UInt64} AND sequence <= {h:UInt64}"
        )
        params = {"p": producer, "l": low, "h": high}
        binary = (
            f"SELECT sequence, toUInt8({self._ok}), toFixedString(unhex(prev_hash), 32), "
            "toFixedString(unhex(event_hash), 32), toFixedString(unhex(event_id), 16) "
            f"{where} AND {_PLAIN}"
        )
        data = self.store.raw_query(binary, params, fmt="RowBinary", settings=_JSON_SETTINGS)
        rows: list[RawRow] = [
            (seq, event_id.hex(), prev.hex(), event_hash.hex(), ok == 1)
            for seq, ok, prev, event_hash, event_id in _BINARY_ROW.iter_unpack(data)
        ]
        text = (
            f"SELECT sequence, event_id, prev_hash, event_hash, {self._ok} {where} AND NOT {_PLAIN}"
        )
        data = self.store.raw_query(text, params, fmt="TabSeparated", settings=_JSON_SETTINGS)
        rows.extend(_parse(line) for line in data.decode("utf-8").splitlines())
        return rows

    def _confirm(self, producer: str, page: list[RawRow]) -> list[RawRow]:
        """Rows the SQL rendering did not confirm, re-checked with the core's encoding."""
        doubtful = [row[1] for row in page if not row[4]]
        if not doubtful:
            return page
        confirmed = {
            (int(row["sequence"]), str(row["event_id"]))
            for row in self._full_rows(producer, doubtful)
            if _exact_ok(row)
        }
        return [(*row[:4], True) if (row[0], row[1]) in confirmed else row for row in page]

    def _full_rows(self, producer: str, event_ids: list[str]) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {', '.join(READ_COLUMNS)} FROM {self._db}.access_events FINAL "
            "WHERE producer_id = {p:String} AND event_id IN {ids:Array(String)}"
        )
        return self.store.select(sql, {"p": producer, "ids": event_ids})

    def patient_index_problems(self, since_us: int, until_us: int) -> list[ChainProblem]:
        """Every patient pseudonym of every event in the window has exactly its by-patient
        index entry, and the index points at nothing else: a deleted entry would hide an
        access from the patient's accounting of disclosures, an extra one would invent it.
        (The set differences run in the engine; re-inserted copies change no set.)"""
        params = {"s": since_us, "u": until_us}
        window = "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64}"
        expected = (
            "SELECT arrayJoin(patient_hashes) AS patient_hash, event_id, producer_id, sequence "
            f"FROM {self._db}.access_events {window}"
        )
        actual = f"SELECT patient_hash, event_id FROM {self._db}.access_by_patient {window}"
        on = "ON a.patient_hash = b.patient_hash AND a.event_id = b.event_id"
        absent = (
            "SELECT DISTINCT a.patient_hash AS patient, a.event_id AS event, "
            f"a.producer_id AS producer, a.sequence AS seq FROM ({expected}) AS a "
            f"LEFT ANTI JOIN ({actual}) AS b {on} ORDER BY patient, event"
        )
        extra = (
            "SELECT DISTINCT a.patient_hash AS patient, a.event_id AS event "
            f"FROM ({actual}) AS a LEFT ANTI JOIN ({expected}) AS b {on} ORDER BY patient, event"
        )
        problems = [
            ChainProblem("missing", r["producer"], int(r["seq"]), r["event"],
                         f"patient index entry absent for {r['patient']}")
            for r in self.store.select(absent, params)
        ]  # fmt: skip
        found = self.store.select(extra, params)
        named = self._seals_of({str(r["event"]) for r in found})
        for r in found:
            producer, seq = named.get(str(r["event"]), ("", 0))
            detail = f"patient index entry for {r['patient']} matches no event"
            problems.append(ChainProblem("forged", producer, seq, str(r["event"]), detail))
        return problems

    def _seals_of(self, event_ids: set[str]) -> dict[str, tuple[str, int]]:
        if not event_ids:
            return {}
        sql = (
            f"SELECT event_id, producer_id, sequence FROM {self._db}.access_events "
            "WHERE event_id IN {ids:Array(String)}"
        )
        rows = self.store.select(sql, {"ids": sorted(event_ids)})
        return {str(r["event_id"]): (str(r["producer_id"]), int(r["sequence"])) for r in rows}

    def erase_events(self) -> list[dict[str, Any]]:
        """The erasure events of the chain (action `evidence.erase`)."""
        sql = (
            f"SELECT producer_id, sequence, event_id, policy_version FROM {self._db}.access_events "
            "FINAL WHERE action = 'evidence.erase'"
        )
        return self.store.select(sql, {})


def _in_order(first: int, rows: list[RawRow]) -> list[RawRow]:
    """Rows of a window of sequences from `first` in (sequence, event_id) order, identical
    re-inserted copies dropped: one slot per sequence (a sort only when one holds several)."""
    if not rows:
        return rows
    slots: list[RawRow | None] = [None] * (max(row[0] for row in rows) - first + 1)
    crowded = False
    for row in rows:
        index = row[0] - first
        held = slots[index]
        if held is None:
            slots[index] = row
        elif held != row:
            crowded = True
    if not crowded:
        return [row for row in slots if row is not None]
    ordered = sorted(rows)
    return [row for i, row in enumerate(ordered) if i == 0 or row != ordered[i - 1]]


def _parse(line: str) -> ChainRow:
    sequence, event_id, prev_hash, event_hash, ok = line.split("\t")
    if "\\" in line:  # TabSeparated escapes: only forged values hold any
        event_id, prev_hash, event_hash = map(_unescape, (event_id, prev_hash, event_hash))
    return ChainRow(int(sequence), event_id, prev_hash, event_hash, ok == "1")


_ESCAPES = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0", "'": "'", "\\": "\\"}


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(_ESCAPES.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _exact_ok(row: dict[str, Any]) -> bool:
    try:
        payload = payload_from_row(row)
    except (KeyError, TypeError, ValueError):
        return False
    recomputed = chain_hash(row["producer_id"], int(row["sequence"]), row["prev_hash"], payload)
    return recomputed == row["event_hash"]
