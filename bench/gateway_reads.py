"""Gateway mode: a guarded read through fhir-evidence in front of HAPI vs the same read from
HAPI directly, same run, same load tool.

Starts a HAPI FHIR JPA server (bench.hapi_upstream: Java 17+, the Maven Central jars; the
full JIT) and seeds it through its REST API with the demo data's practitioners, patients
and care teams (all a Patient read needs), unless `--upstream URL` names a running, seeded
one; then starts `fhir-evidence serve` with FHIR_EVIDENCE_UPSTREAM_FHIR_URL (full
guardrails and evidence, one uvicorn worker) and drives both alternately with wrk on
loopback: `GET /fhir/Patient/{id}` over a practitioner's care-team patients (care-team
reach, the care teams read from HAPI and cached 5 s). Prints requests/s, p50/p99 and gateway/direct.
Goal: ratio >= 0.7. Run alone: `.venv/bin/python -m bench.gateway_reads`.
"""

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from api.access.devissuer import mint_token
from api.settings import Settings
from bench.hapi_upstream import demo_resources, seed, start_hapi
from bench.harness import LoadResult, run_wrk, start_server, stop_server

PRACTITIONER = "Practitioner/prac-0001"
GATEWAY_PORT = 8203
SEEDED_TYPES = frozenset({"Practitioner", "Patient", "CareTeam"})  # all a Patient read needs
HAPI_JVM_OPTS = "-XX:+UseParallelGC"  # the full JIT: HAPI as it would be run, not started fast


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--upstream", help="a running HAPI base URL, seeded with the demo data")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-gateway-"))
    hapi = None if args.upstream else start_hapi(work / "hapi", jvm_opts=HAPI_JVM_OPTS)
    base = args.upstream or hapi.base_url  # type: ignore[union-attr]
    gateway = None
    try:
        dataset = demo_resources()
        if hapi is not None:  # in the data set's order: each patient's records after it
            seed(base, [r for r in dataset if r["resourceType"] in SEEDED_TYPES])
        env = {"FHIR_EVIDENCE_UPSTREAM_FHIR_URL": base}
        gateway = start_server(["-m", "api.boot.cli", "serve"], work / "gateway", GATEWAY_PORT,
                               extra_env=env)  # fmt: skip
        results = _measure(work, base, _reads(dataset), args.seconds, args.connections)
    finally:
        if gateway is not None:
            stop_server(gateway)
        if hapi is not None:
            hapi.stop()
    _report(results, work)


def _reads(dataset: list[dict[str, Any]]) -> list[str]:
    """The practitioner's active care-team patients without a security label."""
    teams = {
        r["subject"]["reference"].removeprefix("Patient/")
        for r in dataset
        if r["resourceType"] == "CareTeam" and r["status"] == "active"
        and any(p["member"]["reference"] == PRACTITIONER for p in r["participant"])
    }  # fmt: skip
    return [
        f"/fhir/Patient/{r['id']}"
        for r in dataset
        if r["resourceType"] == "Patient" and r["id"] in teams and not r.get("meta", {}).get(
            "security")
    ]  # fmt: skip


def _measure(work: Path, base: str, reads: list[str], seconds: int, connections: int)\
        -> list[LoadResult]:  # fmt: skip
    gateway_url = f"http://127.0.0.1:{GATEWAY_PORT}"
    settings = Settings(data_dir=work / "gateway", base_url=gateway_url)
    token = mint_token(settings, "bench-practitioner", "user/*.rs", ttl_s=3600,
                       fhir_user=PRACTITIONER, purpose="TREAT")  # fmt: skip
    direct_root = base.removesuffix("/fhir")
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        for path in reads:  # every path answers 200 both ways, or the numbers mean nothing
            answers = {http.get(f"{root}{path}").status_code for root in (gateway_url, direct_root)}
            if answers != {200}:
                raise RuntimeError(f"{path} answered {answers}")
    results = []
    for label, root in (("gateway (guarded+audit)", gateway_url), ("HAPI directly", direct_root)):
        run_wrk("warm-up", root, reads, token, 2, connections, work)
        results.append(run_wrk(f"read {label}", root, reads, token, seconds, connections, work))
    return results


def _report(results: list[LoadResult], work: Path) -> None:
    print(f"\n{'endpoint / mode':<34} {'throughput':>15}")
    for result in results:
        print(result.row())
    gateway, direct = results
    print(f"ratio read: gateway/direct = {gateway.requests_per_s / direct.requests_per_s:.2f}")
    (work / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
