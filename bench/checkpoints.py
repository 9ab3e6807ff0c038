"""Cost of signed checkpoints and of verification, on a fresh chDB store.

Seals N realistic events (chained exactly as the outbox does, inserted in batches), then
times: the first checkpoint over all of them (`--first` events, default 100,000), a steady
checkpoint over 10,000 new events, and a full `verify_store` (chain content hashes, links,
every checkpoint root, the by-patient index) over all N events. The goal: verification
at >= 200,000 events/s. `.venv/bin/python -m bench.checkpoints [--events 1000000]`.
Run it alone: two shared cores make the numbers meaningless.
"""

import argparse
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.events import BENCH_PSEUDONYMIZER, search_event
from evidence.core import GENESIS_HASH, canonical_bytes
from evidence.core.chain import chain_hash_bytes
from evidence.core.record import evidence_payload, to_evidence_record
from evidence.store import EvidenceStore, open_evidence_store
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed, verifiers
from evidence.store.verification import verify_store

PRODUCER = "api-bench"
BATCH = 50_000
STEADY = 10_000


def sealed(first: int, count: int, prev: str, base_us: int) -> Iterator[dict[str, Any]]:
    pseudonymizer = BENCH_PSEUDONYMIZER
    for n in range(first, first + count):
        payload = evidence_payload(search_event(n, base_us), pseudonymizer)
        event_hash = chain_hash_bytes(PRODUCER, n, prev, canonical_bytes(payload))
        yield to_evidence_record(payload, PRODUCER, n, prev, event_hash).as_row()
        prev = event_hash


def load(store: EvidenceStore, first: int, count: int, prev: str, base_us: int) -> str:
    rows: list[dict[str, Any]] = []
    for row in sealed(first, count, prev, base_us):
        rows.append(row)
        if len(rows) == BATCH:
            store.insert_rows(rows, dedup_token=f"bench:{row['sequence']}")
            rows = []
        prev = str(row["event_hash"])
    store.insert_rows(rows, dedup_token=f"bench:end:{first}")
    return prev


def timed(label: str, work: Any) -> Any:
    start = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - start
    print(f"{label:<52} {elapsed:8.2f} s")
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=100_000)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="fe-checkpoints-")
    store = open_evidence_store(f"chdb://{directory}")
    signer = signer_from_seed(bytes(range(32)))
    checkpointer = Checkpointer(store, signer, max_leaves=10_000_000)
    base_us = (int(time.time()) - 86_400) * 1_000_000
    now = time.time_ns() // 1000

    head, _ = timed(
        f"generate + insert {args.first:,} events",
        lambda: load(store, 1, args.first, GENESIS_HASH, base_us),
    )
    timed(f"first checkpoint over {args.first:,} events", lambda: checkpointer.run_once(now))
    start = args.first + 1
    head, _ = timed(
        f"generate + insert {STEADY:,} more", lambda: load(store, start, STEADY, head, base_us)
    )
    timed(
        f"steady checkpoint over {STEADY:,} new events", lambda: checkpointer.run_once(now + 10**7)
    )
    rest = args.events - args.first - STEADY
    if rest > 0:
        start += STEADY
        timed(f"generate + insert {rest:,} more", lambda: load(store, start, rest, head, base_us))
        timed(
            f"checkpoint over {rest:,} new events", lambda: checkpointer.run_once(now + 2 * 10**7)
        )
    store.command(f"OPTIMIZE TABLE {store.database}.access_events FINAL")  # one sorted part
    keys = verifiers({"keys": [signer.jwk]})
    report, elapsed = timed(
        "verify_store over everything", lambda: verify_store(store, 0, 2**62, keys)
    )
    assert report.intact, report.as_dict()["problems"][:5]
    rate = report.events_checked / elapsed
    checked = f"{report.events_checked:,} events, {report.checkpoints_checked} checkpoints"
    print(f"verified {checked}: {rate:,.0f} events/s")
    store.close()
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
