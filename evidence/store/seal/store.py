"""Reads and writes of the tamper-evidence tables (checkpoints, Merkle nodes, erasures) and
the small reads of `access_events` that checkpointing needs. All through the store's one
client; bulk results are read as TabSeparated text (hashes are hex: nothing to escape)."""

import struct
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from evidence.core.frontier import Node
from evidence.core.seal.rows import SealRow
from evidence.store.clickhouse import EvidenceStore

CHECKPOINT_COLUMNS = (
    "producer_id",
    "tree_size",
    "root",
    "ts_us",
    "head",
    "previous",
    "body",
    "body_hash",
    "key_id",
    "signature",
    "frontier",
)
ERASURE_COLUMNS = (
    "erasure_id",
    "producer_id",
    "sequence",
    "event_hash",
    "event_id",
    "erased_at_us",
    "reason",
)
_NODE_COLUMNS = ("producer_id", "level", "idx", "hash", "ts")
_CP = ", ".join(CHECKPOINT_COLUMNS)


class SealStore:
    def __init__(self, store: EvidenceStore) -> None:
        self.store = store
        self._db = store.database

    def _tsv(self, sql: str, params: dict[str, Any]) -> list[list[str]]:
        data = self.store.raw_query(sql, params, fmt="TabSeparated")
        return [line.split("\t") for line in data.decode("utf-8").splitlines()]

    # --- what checkpointing reads -------------------------------------------------------

    def producers(self) -> list[str]:
        """Every producer: those with a first event, a checkpoint or an erased first event
        (sequence 1 is cheap to find through the min/max index on sequence)."""
        sql = (
            f"SELECT producer_id FROM {self._db}.access_events WHERE sequence = 1 "
            f"UNION DISTINCT SELECT producer_id FROM {self._db}.checkpoints "
            f"UNION DISTINCT SELECT producer_id FROM {self._db}.erasures WHERE sequence = 1"
        )
        return sorted({row[0] for row in self._tsv(sql, {})})

    def seal_rows(self, producer: str, after: int, limit: int, ts_floor_us: int) -> list[SealRow]:
        """(sequence, prev_hash, event_hash, ts_us) of the producer's events after `after`, in
        order; identical re-inserts collapsed, different rows of one sequence kept. Events
        later in the chain were stamped no earlier than `ts_floor_us` (the caller's margin):
        months before it are not read."""
        sql = (
            f"SELECT DISTINCT sequence, prev_hash, event_hash, ts_us FROM {self._db}.access_events "
            "WHERE producer_id = {p:String} AND sequence > {a:UInt64} "
            "AND ts >= fromUnixTimestamp64Micro({f:Int64}, 'UTC') "
            "ORDER BY sequence, event_hash LIMIT {n:UInt64}"
        )
        rows = self._tsv(sql, {"p": producer, "a": after, "n": limit, "f": ts_floor_us})
        return [(int(s), prev, h, int(ts)) for s, prev, h, ts in rows]

    def event_time(self, producer: str, sequence: int) -> int | None:
        """ts_us of a producer's event (None when absent: erased or expired)."""
        sql = (
            f"SELECT min(ts_us) FROM {self._db}.access_events "
            "WHERE producer_id = {p:String} AND sequence = {s:UInt64} HAVING count() > 0"
        )
        rows = self._tsv(sql, {"p": producer, "s": sequence})
        return int(rows[0][0]) if rows else None

    # --- checkpoints --------------------------------------------------------------------

    def insert_checkpoint(self, row: dict[str, Any]) -> None:
        self.store.raw_insert("checkpoints", CHECKPOINT_COLUMNS, orjson.dumps(row), "JSONEachRow")

    def _checkpoints(
        self, where: str, params: dict[str, Any], order: str, limit: int
    ) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {_CP} FROM {self._db}.checkpoints FINAL WHERE {where} "
            f"ORDER BY {order} LIMIT {int(limit)}"
        )
        return self.store.select(sql, params)

    def latest_checkpoint(self, producer: str) -> dict[str, Any] | None:
        rows = self._checkpoints(
            "producer_id = {p:String}", {"p": producer}, "tree_size DESC, ts_us DESC", 1
        )
        return rows[0] if rows else None

    def covering_checkpoint(self, producer: str, sequence: int) -> dict[str, Any] | None:
        """The newest checkpoint of the producer, if it covers `sequence`."""
        latest = self.latest_checkpoint(producer)
        return latest if latest is not None and latest["tree_size"] >= sequence else None

    def checkpoint_of_size(self, producer: str, size: int) -> dict[str, Any] | None:
        rows = self._checkpoints(
            "producer_id = {p:String} AND tree_size = {n:UInt64}",
            {"p": producer, "n": size},
            "ts_us DESC",
            1,
        )
        return rows[0] if rows else None

    def anchor_before(
        self, producer: str, size_below: int, ts_before: int
    ) -> dict[str, Any] | None:
        """The newest checkpoint smaller than `size_below` and older than `ts_before`."""
        where = "producer_id = {p:String} AND tree_size < {n:UInt64} AND ts_us < {t:Int64}"
        params = {"p": producer, "n": size_below, "t": ts_before}
        rows = self._checkpoints(where, params, "tree_size DESC, ts_us DESC", 1)
        return rows[0] if rows else None

    def checkpoints_after(
        self, producer: str, size: int, ts_after: int, ts_until: int
    ) -> list[dict[str, Any]]:
        """Checkpoints from tree size `size` on, newer than `ts_after`, older than `ts_until`,
        in chain order (size, then time)."""
        where = (
            "producer_id = {p:String} AND tree_size >= {n:UInt64} "
            "AND ts_us > {a:Int64} AND ts_us < {u:Int64}"
        )
        params = {"p": producer, "n": size, "a": ts_after, "u": ts_until}
        return self._checkpoints(where, params, "tree_size, ts_us", 10_000_000)

    def checkpoint_producers(self, since_us: int, until_us: int) -> list[str]:
        sql = (
            f"SELECT DISTINCT producer_id FROM {self._db}.checkpoints "
            "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64}"
        )
        return sorted(row[0] for row in self._tsv(sql, {"s": since_us, "u": until_us}))

    def checkpoint_page(
        self, producer: str, since_us: int, until_us: int, limit: int, after: tuple[int, str] | None
    ) -> list[dict[str, Any]]:
        """Newest first, for the auditor listing; `producer` empty = every producer."""
        params: dict[str, Any] = {"p": producer, "s": since_us, "u": until_us}
        where = (
            "({p:String} = '' OR producer_id = {p:String}) AND ts_us >= {s:Int64} "
            "AND ts_us < {u:Int64}"
        )
        if after is not None:
            where += " AND (ts_us, producer_id) < ({at:Int64}, {ap:String})"
            params.update(at=after[0], ap=after[1])
        return self._checkpoints(where, params, "ts_us DESC, producer_id DESC", limit)

    # --- Merkle nodes -------------------------------------------------------------------

    def insert_nodes(self, producer: str, nodes: Sequence[Node], ts_s: int) -> None:
        if not nodes:
            return
        name = producer.encode("utf-8")
        prefix = _leb128(len(name)) + name
        tail = struct.pack("<I", ts_s)
        block = b"".join(
            prefix + struct.pack("<BQ", level, index) + h + tail for level, index, h in nodes
        )
        self.store.raw_insert("merkle_nodes", _NODE_COLUMNS, block, "RowBinary")

    def nodes(self, producer: str, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        pairs = ", ".join(f"({int(level)}, {int(index)})" for level, index in wanted)
        sql = (
            f"SELECT DISTINCT level, idx, hex(hash) FROM {self._db}.merkle_nodes "
            f"WHERE producer_id = {{p:String}} AND (level, idx) IN ({pairs})"
        )
        rows = self._tsv(sql, {"p": producer})
        return {(int(lv), int(ix)): bytes.fromhex(h) for lv, ix, h in rows}

    def leaf_nodes(self, producer: str, start: int, end: int) -> dict[int, list[bytes]]:
        """Stored leaf hashes (level 0) of leaf indexes [start, end); a tampered table may
        hold several for one index."""
        sql = (
            f"SELECT DISTINCT idx, hex(hash) FROM {self._db}.merkle_nodes "
            "WHERE producer_id = {p:String} AND level = 0 "
            "AND idx >= {s:UInt64} AND idx < {e:UInt64}"
        )
        out: dict[int, list[bytes]] = {}
        for index, h in self._tsv(sql, {"p": producer, "s": start, "e": end}):
            out.setdefault(int(index), []).append(bytes.fromhex(h))
        return out

    # --- erasures -----------------------------------------------------------------------

    def insert_erasures(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            block = b"\n".join(orjson.dumps(row) for row in rows)
            self.store.raw_insert("erasures", ERASURE_COLUMNS, block, "JSONEachRow")

    def erasures(self, producer: str, low: int, high: int) -> list[dict[str, Any]]:
        """Erasure records of sequences [low, high] of one producer."""
        sql = (
            f"SELECT {', '.join(ERASURE_COLUMNS)} FROM {self._db}.erasures FINAL "
            "WHERE producer_id = {p:String} AND sequence >= {l:UInt64} AND sequence <= {h:UInt64} "
            "ORDER BY sequence, erasure_id"
        )
        return self.store.select(sql, {"p": producer, "l": low, "h": high})

    def erasure_records(self, erasure_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = sorted(set(erasure_ids))
        if not ids:
            return []
        sql = (
            f"SELECT {', '.join(ERASURE_COLUMNS)} FROM {self._db}.erasures FINAL "
            "WHERE erasure_id IN {ids:Array(String)}"
        )
        return self.store.select(sql, {"ids": ids})


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
