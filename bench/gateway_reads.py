"""Gateway mode: a guarded read through fhir-evidence in front of HAPI vs the same read from
HAPI directly, same run, same load tool.

Starts a HAPI FHIR JPA server (scripts/hapi.sh: Java 17+, the Maven Central jars) and seeds
it through its REST API with the demo data's practitioners, patients and care teams (all a
Patient read needs), unless `--upstream URL` names a running, seeded one; then starts
`fhir-evidence serve` with FHIR_EVIDENCE_UPSTREAM_FHIR_URL (full guardrails and evidence,
one uvicorn worker) and drives both alternately with wrk on loopback: `GET
/fhir/Patient/{id}` over a practitioner's care-team patients (care-team reach, the care
teams read from HAPI and cached 5 s). Prints requests/s, p50/p99 and gateway/direct.
Goal: ratio >= 0.7. Run alone: `.venv/bin/python -m bench.gateway_reads`.
"""

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from api.access.devissuer import mint_token
from api.data.synthetic.dataset import generate_dataset
from api.settings import Settings
from bench.harness import ROOT, LoadResult, run_wrk, start_server, stop_server

PRACTITIONER = "Practitioner/prac-0001"
GATEWAY_PORT = 8203
SEEDED_TYPES = ("Practitioner", "Patient", "CareTeam")  # in this order: referenced first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--upstream", help="a running HAPI base URL, seeded with the demo data")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-bench-gateway-"))
    hapi_dir = None if args.upstream else work / "hapi"
    base = args.upstream or _start_hapi(work / "hapi")
    gateway = None
    try:
        dataset = generate_dataset()
        if hapi_dir is not None:
            _seed(base, [r for t in SEEDED_TYPES for r in dataset if r["resourceType"] == t])
        env = {"FHIR_EVIDENCE_UPSTREAM_FHIR_URL": base}
        gateway = start_server(["-m", "api.boot.cli", "serve"], work / "gateway", GATEWAY_PORT,
                               extra_env=env)  # fmt: skip
        results = _measure(work, base, _reads(dataset), args.seconds, args.connections)
    finally:
        if gateway is not None:
            stop_server(gateway)
        if hapi_dir is not None:
            _hapi("stop", hapi_dir)
    _report(results, work)


def _hapi(command: str, state_dir: Path) -> str:
    env = dict(os.environ, HAPI_WATCH_PID=str(os.getpid()))
    script = str(ROOT / "scripts" / "hapi.sh")
    done = subprocess.run(["bash", script, command, str(state_dir)], env=env, check=True,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    return done.stdout.strip()


def _start_hapi(state_dir: Path) -> str:
    _hapi("start", state_dir)
    return (state_dir / "base_url").read_text().strip()


def _seed(base: str, resources: list[dict[str, Any]]) -> None:
    """PUT by id in transaction Bundles (HAPI keeps the ids)."""
    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=base, timeout=600) as http:
        for start in range(0, len(resources), 500):
            entries = [_put(resource) for resource in resources[start : start + 500]]
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            http.post("", json=bundle, headers=headers).raise_for_status()


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


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
