"""Ingestion into chDB: rows/s of `EvidenceStore.insert_rows` (one JSON array per batch into
the JSONAsString table, parsed by the engine's views: `evidence.store.ingest`) against a
columnar alternative (one Arrow record batch built from the same row dicts, sent straight
to the parsed table below the JSON step), in the same process, on the same store,
alternating, for batches of 2,000, 20,000 and 100,000 real sealed rows; then the engine
alone, each path's block built beforehand.

Each insert is timed whole (checks, encoding and the engine's work on both tables), in wall
time (best rows/s) and in CPU time of the process, every thread's (least µs per row: what
the insert costs, whatever else the machine runs); the Python part (`checked_rows` plus the
encoding) is timed again alone, in CPU µs per row. The rows are built once (AccessEvent →
evidence_payload → seal → stream.sealed.sealed_row) and sent again under a fresh
deduplication token each time.

Goal (issue 19): ≥ 150,000 rows/s. On a shared machine compare the ratios of one run.
`.venv/bin/python -m bench.ingest_rows [--sizes 2000,20000,100000] [--repeat 3]`
"""

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
import pyarrow as pa

from bench.events import BENCH_PSEUDONYMIZER, search_event
from evidence.core import GENESIS_HASH, canonical_bytes, chain_hash_bytes
from evidence.core.record import evidence_payload
from evidence.store import EvidenceStore
from evidence.store.columns import COLUMN_TYPES, ROW_COLUMNS
from evidence.store.ingest import INGEST_FORMAT, INGEST_TABLE, PARSED_TABLE, ingest_settings
from evidence.store.row_check import checked_rows
from stream.heap import settle_heap
from stream.sealed import sealed_row

Row = dict[str, Any]


def sealed(count: int) -> list[Row]:
    """`count` rows of one producer's chain, one of 300 principals and 2,000 patients each."""
    base_us, rows, prev = time.time_ns() // 1000 - count * 2000, [], GENESIS_HASH
    for n in range(count):
        event = search_event(n, base_us, event_id=uuid.uuid4().hex)
        payload = canonical_bytes(evidence_payload(event, BENCH_PSEUDONYMIZER))
        event_hash = chain_hash_bytes("api-bench", n + 1, prev, payload)
        rows.append(sealed_row(payload, "api-bench", n + 1, prev, event_hash))
        prev = event_hash
    return rows


_SCALARS = {
    "String": pa.string(), "UInt8": pa.uint8(), "UInt16": pa.uint16(),
    "UInt32": pa.uint32(), "UInt64": pa.uint64(), "Int64": pa.int64(),
}  # fmt: skip


def _arrow_type(kind: str) -> Any:
    if kind.startswith("LowCardinality("):
        return _arrow_type(kind.removeprefix("LowCardinality(")[:-1])
    if kind.startswith("Array("):
        return pa.list_(_arrow_type(kind.removeprefix("Array(")[:-1]))
    return _SCALARS[kind]


_ROW_TYPE = pa.struct([(name, _arrow_type(COLUMN_TYPES[name])) for name in ROW_COLUMNS])
ARROW_COLUMNS = [*ROW_COLUMNS, "stored_at", "row"]


def arrow_block(rows: list[Row]) -> bytes:
    """The columnar alternative: the rows' columns read from the dicts in one C++ pass (a
    struct array), one stored_at for the batch, and each row's JSON text (its by-patient
    copy must stay the text sent), as one Arrow IPC stream."""
    columns = pa.array(rows, type=_ROW_TYPE).flatten()
    stored_at = pa.array([time.time_ns() // 1_000_000] * len(rows), pa.timestamp("ms", "UTC"))
    texts = pa.array(list(map(orjson.dumps, rows)), type=pa.binary())
    batch = pa.RecordBatch.from_arrays([*columns, stored_at, texts], names=ARROW_COLUMNS)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def json_insert(store: EvidenceStore, rows: list[Row]) -> None:
    """What the store does: `insert_rows`."""
    store.insert_rows(rows, dedup_token=f"bench:{uuid.uuid4().hex}")


def send_arrow(store: EvidenceStore, block: bytes, rows: int) -> None:
    settings = ingest_settings(rows, f"bench:{uuid.uuid4().hex}")
    store.client_call(
        lambda c: c.raw_insert(f"{store.database}.{PARSED_TABLE}", column_names=ARROW_COLUMNS,
                               insert_block=block, settings=settings, fmt="ArrowStream")
    )  # fmt: skip


def columnar_insert(store: EvidenceStore, rows: list[Row]) -> None:
    send_arrow(store, arrow_block(checked_rows(rows)), len(rows))


def send_json(store: EvidenceStore, block: bytes, rows: int) -> None:
    settings = ingest_settings(rows, f"bench:{uuid.uuid4().hex}")
    store.client_call(
        lambda c: c.raw_insert(f"{store.database}.{INGEST_TABLE}", column_names=["row"],
                               insert_block=block, settings=settings, fmt=INGEST_FORMAT)
    )  # fmt: skip


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every thread, the engine's too)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(store: EvidenceStore, rows: list[Row], size: int, repeat: int) -> dict[str, float]:
    """Per path, over `repeat` alternations: the best wall rows/s, the least CPU µs per row
    (whole insert), and the least CPU µs per row of its Python part alone."""
    batch = rows[:size]
    python = {
        "json": lambda: orjson.dumps(checked_rows(batch)),
        "columnar": lambda: arrow_block(checked_rows(batch)),
    }
    out: dict[str, float] = {}
    for name, work in python.items():
        out[f"{name} python"] = min(timed(work)[1] for _ in range(repeat)) / size * 1e6
    walls: dict[str, list[float]] = {"json": [], "columnar": []}
    cpus: dict[str, list[float]] = {"json": [], "columnar": []}
    for _ in range(repeat):
        for name, insert in (("json", json_insert), ("columnar", columnar_insert)):
            wall, cpu = timed(lambda i=insert: i(store, batch))  # type: ignore[misc]
            walls[name].append(wall)
            cpus[name].append(cpu)
    blocks = {"json": orjson.dumps(checked_rows(batch)), "columnar": arrow_block(batch)}
    sends = {"json": send_json, "columnar": send_arrow}
    for name in ("json engine", "columnar engine"):
        walls[name], cpus[name] = [], []
    for _ in range(repeat):
        for name in ("json", "columnar"):
            wall, cpu = timed(lambda n=name: sends[n](store, blocks[n], size))  # type: ignore[misc]
            walls[f"{name} engine"].append(wall)
            cpus[f"{name} engine"].append(cpu)
    for name in walls:
        out[f"{name} rows/s"] = size / min(walls[name])
        out[f"{name} cpu"] = min(cpus[name]) / size * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        store = EvidenceStore(clickhouse_connect.get_client(dsn=f"chdb://{work}"), "bench")
        store.apply_schema()
        started = time.perf_counter()
        rows = sealed(max(sizes))
        print(f"built {len(rows):,} sealed rows in {time.perf_counter() - started:.1f} s")
        settle_heap()  # as the worker and pipeline processes do once started (stream.heap)
        columnar_insert(store, rows[:100])  # warm-up: pyarrow's first conversions
        json_insert(store, rows[:100])
        print("JSON = insert_rows (the store's path), columnar = Arrow built from the dicts;"
              " engine = the block built beforehand, the insert call alone")  # fmt: skip
        head = "wall rows/s: JSON columnar ratio | CPU µs/row: JSON columnar | Python µs/row"
        print(f"{'rows/insert':>11}  {'':<6} | {head}")
        for size in sizes:
            r = measure(store, rows, size, args.repeat)
            for label, suffix in (("whole", ""), ("engine", " engine")):
                json, col = r[f"json{suffix} rows/s"], r[f"columnar{suffix} rows/s"]
                python = (f"{r['json python']:>6.1f} {r['columnar python']:>6.1f}"
                          if not suffix else "")  # fmt: skip
                print(f"{size:>11,}  {label:<6} | {json:>16,.0f} {col:>8,.0f} {col / json:>5.2f} | "
                      f"{r[f'json{suffix} cpu']:>16.1f} {r[f'columnar{suffix} cpu']:>8.1f} | "
                      f"{python}")  # fmt: skip
        print("goal: insert_rows ≥ 150,000 rows/s")
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
