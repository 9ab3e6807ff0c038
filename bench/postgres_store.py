"""The FHIR data on PostgreSQL vs SQLite, in one run:

1. guarded `GET /fhir/Patient/{id}` and a 20-entry search through `serve` (full audit), one
   server per store, driven alternately by wrk: requests/s, p50/p99 and PostgreSQL/SQLite;
2. seeding `--resources` synthetic resources (default 1M) into each store: resources/s;
3. a patient-compartment search (`Observation?patient=X` by a patient app, 20 entries and
   the total) over that data, for `--samples` random patients: p50/p99 in ms.

PostgreSQL: `--dsn` (a role that may create databases), else a server started here with
scripts/postgres.sh. Run alone: `.venv/bin/python -m bench.postgres_store`.
"""

import argparse
import contextlib
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from api.access.devissuer import mint_token
from api.data.port import FhirData
from api.data.postgres.repository import PostgresRepository
from api.data.query import ReferenceIn
from api.data.sqlite.repository import ResourceRepository
from api.data.synthetic.dataset import generate_dataset
from api.security.access import PatientReach, Reach
from api.settings import Settings
from bench.harness import (
    ROOT,
    LoadResult,
    care_team_patients,
    percentile,
    run_wrk,
    start_server,
    stop_server,
)

PRACTITIONER = "Practitioner/prac-0001"
NOW = "2026-12-06T00:00:00Z"
RESOURCES_PER_PATIENT = 35.5  # what the synthetic generator makes, on average


@contextlib.contextmanager
def postgres_server(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    state = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-pg-"))
    state.chmod(0o755)  # the server's unprivileged user enters it
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run(["bash", script, "start", str(state)], capture_output=True,
                             text=True, check=True)  # fmt: skip
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", script, "stop", str(state)], capture_output=True, check=False)


@contextlib.contextmanager
def database(server_dsn: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def served(pg_dsn: str, work: Path, seconds: int, connections: int) -> list[LoadResult]:
    """Guarded read and 20-entry search, SQLite then PostgreSQL, alternately."""
    stores = {"sqlite": ({}, 8211), "postgresql": ({"FHIR_EVIDENCE_FHIR_STORE_URL": pg_dsn}, 8212)}
    processes, tokens = {}, {}
    try:
        for name, (env, port) in stores.items():
            data_dir = work / name
            processes[name] = start_server(["-m", "api.boot.cli", "serve"], data_dir, port, env)
            settings = Settings(data_dir=data_dir, base_url=f"http://127.0.0.1:{port}")
            tokens[name] = mint_token(settings, "bench", "user/*.rs", ttl_s=3600,
                                      fhir_user=PRACTITIONER, purpose="TREAT")  # fmt: skip
        patients = care_team_patients(work / "sqlite", PRACTITIONER)  # the same demo data
        kinds = {
            "read": [f"/fhir/Patient/{pid}" for pid in patients],
            "search": ["/fhir/Observation?category=vital-signs&_count=20"],
        }
        results = []
        for kind, paths in kinds.items():
            for name, (_env, port) in stores.items():
                base = f"http://127.0.0.1:{port}"
                run_wrk("warm-up", base, paths, tokens[name], 2, connections, work)
                label = f"{kind:<6} {name}"
                results.append(run_wrk(label, base, paths, tokens[name], seconds, connections,
                                       work))  # fmt: skip
        return results
    finally:
        for process in processes.values():
            stop_server(process)


def seeded(store: FhirData, resources: int) -> float:
    """Resources/s of loading `resources` synthetic resources in chunks of ~10,000."""
    patients = max(1, round(resources / RESOURCES_PER_PATIENT))
    chunk_patients, loaded, spent, seed = 280, 0, 0.0, 1
    while loaded < resources:
        batch = generate_dataset(patients=min(chunk_patients, patients), seed=seed)
        for item in batch:  # distinct ids per chunk (the generator's ids repeat per seed)
            item["id"] = f"{item['id']}-s{seed}"
            _rewrite_references(item, f"-s{seed}")
        started = time.perf_counter()
        loaded += store.save_many(batch[: resources - loaded], NOW)
        spent += time.perf_counter() - started
        seed += 1
    return loaded / spent


def _rewrite_references(node: object, suffix: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and "/" in value:
                node[key] = value + suffix
            else:
                _rewrite_references(value, suffix)
    elif isinstance(node, list):
        for value in node:
            _rewrite_references(value, suffix)


def compartment_search_ms(store: FhirData, samples: int) -> tuple[float, float]:
    """p50/p99 of `Observation?patient=Patient/X` by a patient app of X (20 entries + total)."""
    page = store.search("Patient", [], PatientReach(Reach.ALL), frozenset(), 5000, 0)
    ids = [row.id for row in page.rows]
    timings = []
    for pid in random.Random(7).choices(ids, k=samples):
        criteria = [ReferenceIn("patient", (f"Patient/{pid}",))]
        started = time.perf_counter()
        store.search("Observation", criteria, PatientReach(Reach.ONE, patient=pid),
                     frozenset(), 20, 0)  # fmt: skip
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 0.5), percentile(timings, 0.99)


def at_scale(pg_dsn: str, work: Path, resources: int, samples: int) -> dict[str, tuple[float, ...]]:
    opened: dict[str, Callable[[], FhirData]] = {
        "sqlite": lambda: ResourceRepository(work / "scale.sqlite"),
        "postgresql": lambda: PostgresRepository(pg_dsn),
    }
    numbers: dict[str, tuple[float, ...]] = {}
    for name, open_store in opened.items():
        store = open_store()
        try:
            rate = seeded(store, resources)
            numbers[name] = (rate, *compartment_search_ms(store, samples))
        finally:
            store.close()
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", help="PostgreSQL server URL (default: start one here)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-"))
    with postgres_server(args.dsn) as server_dsn:
        with database(server_dsn) as pg:
            results = served(pg, work, args.seconds, args.connections)
        with database(server_dsn) as pg:
            scale = at_scale(pg, work, args.resources, args.samples)
    print(f"\n{'endpoint / store':<34} {'throughput':>15}")
    for result in results:
        print(result.row())
    for kind in ("read", "search"):
        sqlite, postgres = (r for r in results if r.label.startswith(kind))
        ratio = postgres.requests_per_s / sqlite.requests_per_s
        print(f"ratio {kind}: postgresql/sqlite = {ratio:.2f}")
    print(f"\n{args.resources:,} resources  seeding (resources/s)  compartment search p50 / p99")
    for name, (rate, p50, p99) in scale.items():
        print(f"{name:<12} {rate:>22,.0f}  {p50:>14.2f} ms / {p99:.2f} ms")


if __name__ == "__main__":
    main()
