"""Guarded reads and searches with audit vs the same app with guardrails and audit off.

Starts both servers as separate processes (one uvicorn worker each), drives them alternately
with wrk from another process on loopback, and prints requests/s, p50/p99 and the ratio.
Goal: >= 2,000 guarded reads/s on a 2-core machine, ratio >= 0.6.
Run alone (other load on the two cores skews it): `.venv/bin/python -m bench.guarded_reads`.
"""

import argparse
import json
import tempfile
from pathlib import Path

from api.access.devissuer import mint_token
from api.settings import Settings
from bench.harness import LoadResult, care_team_patients, run_wrk, start_server, stop_server

PRACTITIONER = "Practitioner/prac-0001"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-"))
    guarded_dir, baseline_dir = work / "guarded", work / "baseline"
    guarded = start_server(["-m", "api.boot.cli", "serve"], guarded_dir, 8201)
    baseline = start_server(["-m", "bench.baseline_server"], baseline_dir, 8202)
    try:
        results = _measure(guarded_dir, args.seconds, args.connections, work)
    finally:
        stop_server(guarded)
        stop_server(baseline)
    _report(results, work)


def _measure(guarded_dir: Path, seconds: int, connections: int, work: Path) -> list[LoadResult]:
    settings = Settings(data_dir=guarded_dir, base_url="http://127.0.0.1:8201")
    token = mint_token(
        settings,
        "bench-practitioner",
        "user/*.rs",
        ttl_s=3600,
        fhir_user=PRACTITIONER,
        purpose="TREAT",
    )
    patients = care_team_patients(guarded_dir, PRACTITIONER)
    reads = [f"/fhir/Patient/{pid}" for pid in patients]
    searches = ["/fhir/Observation?category=vital-signs&_count=20"]
    results = []
    for kind, paths in (("read", reads), ("search", searches)):
        for label, port in (("guarded+audit", 8201), ("baseline (off)", 8202)):
            run_wrk("warm-up", f"http://127.0.0.1:{port}", paths, token, 2, connections, work)
            results.append(
                run_wrk(
                    f"{kind:<6} {label}",
                    f"http://127.0.0.1:{port}",
                    paths,
                    token,
                    seconds,
                    connections,
                    work,
                )
            )
    return results


def _report(results: list[LoadResult], work: Path) -> None:
    print(f"\n{'endpoint / mode':<34} {'throughput':>15}")
    for result in results:
        print(result.row())
    for kind in ("read", "search"):
        guarded, baseline = (r for r in results if r.label.startswith(kind))
        print(
            f"ratio {kind}: guarded/baseline = "
            f"{guarded.requests_per_s / baseline.requests_per_s:.2f}"
        )
    (work / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
