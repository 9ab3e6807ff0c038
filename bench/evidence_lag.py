"""Evidence lag: time from a response to its evidence being queryable, at a paced rate.

Sends requests at a fixed rate (default 500/s) from this process to a server in another,
then reads every event back through the auditor API and compares each event's time (taken
when the response was released) with the time the evidence store recorded it.
Goal: p99 < 1 s. `.venv/bin/python -m bench.evidence_lag`.
"""

import argparse
import http.client
import multiprocessing
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from api.access.devissuer import mint_token
from api.settings import Settings
from bench.harness import percentile, start_server, stop_server

PORT = 8211


def _paced_worker(args: tuple[int, str, int, float, int, int, int]) -> tuple[int, int]:
    """One keep-alive connection sending every `workers`-th request of the schedule."""
    port, token, offset, start, total, workers, rate = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    ok = failed = 0
    for n in range(offset, total, workers):
        delay = start + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        conn.request("GET", f"/fhir/Patient/pat-{n % 150 + 1:05d}", headers=headers)
        response = conn.getresponse()
        response.read()
        ok, failed = (ok + 1, failed) if response.status < 500 else (ok, failed + 1)
    conn.close()
    return ok, failed


def _paced_load(token: str, rate: int, seconds: int, workers: int = 8) -> tuple[int, int]:
    """`rate` requests/s on a fixed schedule, spread over worker processes (not threads:
    a client sharing the GIL would fall behind the schedule and measure itself)."""
    start = time.time() + 1.0
    jobs = [(PORT, token, w, start, rate * seconds, workers, rate) for w in range(workers)]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_paced_worker, jobs)
    print(f"sent {rate * seconds} requests in {time.perf_counter() - began - 1.0:.1f} s")
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _lags(base: str, auditor: str, sub: str) -> list[float]:
    lags: list[float] = []
    url: str | None = f"{base}/audit/principals/{sub}/accesses?_count=1000"
    with httpx.Client(headers={"Authorization": f"Bearer {auditor}"}, timeout=60) as http:
        while url:
            body = http.get(url).json()
            for access in body["accesses"]:
                sent = datetime.fromisoformat(access["time"])
                recorded = datetime.fromisoformat(access["recorded_at"])
                lags.append((recorded - sent).total_seconds())
            url = body.get("next")
    return lags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="fhir-evidence-lag-")) / "data"
    server = start_server(["-m", "api.boot.cli", "serve"], data, PORT)
    base = f"http://127.0.0.1:{PORT}"
    settings = Settings(data_dir=data, base_url=base)
    sub = "lag-bench"
    try:
        token = mint_token(settings, sub, "system/*.rs", ttl_s=3600, clearance=["R", "V"])
        auditor = mint_token(settings, "lag-auditor", "system/AuditEvent.rs", ttl_s=3600)
        ok, failed = _paced_load(token, args.rate, args.seconds)
        time.sleep(3)
        lags = _lags(base, auditor, sub)
    finally:
        stop_server(server)
    print(f"requests ok {ok}, failed {failed}; evidence rows read back {len(lags)}")
    print(
        f"evidence lag at {args.rate} req/s: p50 {percentile(lags, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
