"""Guarded reads and searches with audit vs the same app with guardrails and audit off.

Starts both servers as separate processes (`serve --workers N` and the baseline with N
uvicorn workers, for each N of --workers), drives them alternately with wrk from another
process on loopback, and prints requests/s, p50/p99, the ratio for each N, the scaling from
the first N to the others, and where a guarded read's time goes, step by step, in µs
(bench.request_steps). With --hapi it then starts HAPI FHIR JPA 8.8.0 (bench.hapi_upstream,
the full JIT), seeds it with the demo data, warms it and times its unguarded
`GET /fhir/Patient/{id}` over the same paths with the same wrk settings: the peer of issue 19.
Goal: >= 2,000 guarded reads/s on a 2-core machine, ratio >= 0.6; guarded >= 1.5x HAPI.
Run alone (other load on the two cores skews it): `.venv/bin/python -m bench.guarded_reads`.
"""

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import httpx

from api.access.devissuer import mint_token
from api.settings import Settings
from bench.cpu_use import measured
from bench.hapi_upstream import demo_resources, seed, start_hapi
from bench.harness import LoadResult, care_team_patients, run_wrk, start_server, stop_server
from bench.request_steps import report as report_steps
from bench.request_steps import step_costs

PRACTITIONER = "Practitioner/prac-0001"
HAPI_JVM_OPTS = "-XX:+UseParallelGC"  # the full JIT, as bench.gateway_reads runs it
HAPI_WARM_S = 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="API process counts, e.g. 1,2")
    parser.add_argument(
        "--hapi",
        action="store_true",
        help="also time HAPI FHIR JPA's unguarded Patient read (Java 17+)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-"))
    results: list[LoadResult] = []
    counts = [int(n) for n in args.workers.split(",")]
    for n in counts:
        results += _run_pair(work, n, args.seconds, args.connections)
    patients = care_team_patients(work / f"guarded-{counts[0]}", PRACTITIONER)
    if args.hapi:
        results.append(_hapi_read(work, patients, args.seconds, args.connections))
    _report(results, work, counts)
    print(report_steps(step_costs(work / f"guarded-{counts[0]}", patients, PRACTITIONER)))


def _run_pair(work: Path, n: int, seconds: int, connections: int) -> list[LoadResult]:
    """The guarded server (serve --workers n) and the baseline with n processes."""
    guarded_dir, baseline_dir = work / f"guarded-{n}", work / f"baseline-{n}"
    guarded = start_server(["-m", "api.boot.cli", "serve", "--workers", str(n)], guarded_dir,
                           8201)  # fmt: skip
    baseline_dir.mkdir(parents=True)
    shutil.copyfile(guarded_dir / "fhir.sqlite", baseline_dir / "fhir.sqlite")
    try:
        baseline = start_server(["-m", "bench.baseline_server", "--workers", str(n)],
                                baseline_dir, 8202)  # fmt: skip
        try:
            found = _measure(guarded_dir, seconds, connections, work, (guarded.pid, baseline.pid))
        finally:
            stop_server(baseline)
    finally:
        stop_server(guarded)
    return [replace(r, label=f"{r.label} x{n}") for r in found]


def _hapi_read(work: Path, patients: list[str], seconds: int, connections: int) -> LoadResult:
    """HAPI's unguarded Patient read over the same paths, after our servers have stopped."""
    hapi = start_hapi(work / "hapi", jvm_opts=HAPI_JVM_OPTS)
    try:
        seed(hapi.base_url, demo_resources())
        root = hapi.base_url.removesuffix("/fhir")
        reads = [f"/fhir/Patient/{pid}" for pid in patients]
        for path in reads:  # every path answers 200, or the number means nothing
            status = httpx.get(f"{root}{path}", timeout=30).status_code
            if status != 200:
                raise RuntimeError(f"HAPI answered {status} to {path}")
        run_wrk("warm-up", root, reads, "none", HAPI_WARM_S, connections, work)
        return run_wrk(
            "read   HAPI peer (no auth)", root, reads, "none", seconds, connections, work
        )
    finally:
        hapi.stop()


def patient_reads(
    data_dir: Path, base_url: str, sub: str = "bench-practitioner"
) -> tuple[str, list[str]]:
    """A treating practitioner's token (subject `sub`) and the Patient reads every guarded-read
    run cycles over: the practitioner's care-team patients (bench.evidence_lag uses them too)."""
    settings = Settings(data_dir=data_dir, base_url=base_url)
    token = mint_token(
        settings, sub, "user/*.rs", ttl_s=3600, fhir_user=PRACTITIONER, purpose="TREAT"
    )
    return token, [f"/fhir/Patient/{pid}" for pid in care_team_patients(data_dir, PRACTITIONER)]


def _measure(guarded_dir: Path, seconds: int, connections: int, work: Path,
             pids: tuple[int, int]) -> list[LoadResult]:  # fmt: skip
    """Each kind and server in turn, with the CPU each run cost per request (bench.cpu_use)."""
    token, reads = patient_reads(guarded_dir, "http://127.0.0.1:8201")
    searches = ["/fhir/Observation?category=vital-signs&_count=20"]
    results = []
    for kind, paths in (("read", reads), ("search", searches)):
        for label, port, pid in (
            ("guarded+audit", 8201, pids[0]),
            ("baseline (off)", 8202, pids[1]),
        ):
            base = f"http://127.0.0.1:{port}"
            run_wrk("warm-up", base, paths, token, 2, connections, work)
            load = partial(run_wrk, f"{kind:<6} {label}", base, paths, token, seconds,
                           connections, work)  # fmt: skip
            result, cpu = measured(pid, load, lambda r: r.requests_per_s * seconds)
            results.append(result)
            print(f"{result.label}: {cpu.report()}", flush=True)
    return results


def _report(results: list[LoadResult], work: Path, counts: list[int]) -> None:
    print(f"\n{'endpoint / mode / processes':<34} {'throughput':>15}")
    for result in results:
        print(result.row())
    for n in counts:
        for kind in ("read", "search"):
            guarded, baseline = (
                r for r in results if r.label.startswith(kind) and r.label.endswith(f"x{n}")
            )
            print(
                f"ratio {kind} x{n}: guarded/baseline = "
                f"{guarded.requests_per_s / baseline.requests_per_s:.2f}"
            )
    for hapi in (r for r in results if "HAPI" in r.label):
        for guarded in (r for r in results if r.label.startswith("read") and "guarded" in r.label):
            print(f"ratio read {guarded.label.split()[-1]}: guarded/HAPI = "
                  f"{guarded.requests_per_s / hapi.requests_per_s:.2f} (goal >= 1.5)")  # fmt: skip
    for kind in ("read", "search"):
        first, *more = (r for r in results if r.label.startswith(kind) and "guarded" in r.label)
        for other in more:
            print(f"scaling {kind} guarded: {other.label.split()[-1]} / {first.label.split()[-1]}"
                  f" = {other.requests_per_s / first.requests_per_s:.2f}")  # fmt: skip
    (work / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
