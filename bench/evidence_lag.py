"""Evidence lag: time from a response to its evidence being queryable, at a paced rate.

Sends requests at a fixed rate (default 500/s) from this process to a server in another,
then reads every event back through the auditor API and compares each event's time (taken
when the response was released) with the time the evidence store recorded it.
Goal (issue 2): p99 < 1 s. `.venv/bin/python -m bench.evidence_lag`.
"""

import argparse
import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from api.devissuer import mint_token
from api.settings import Settings
from bench.harness import percentile, start_server, stop_server

PORT = 8211


async def _paced_load(base: str, token: str, rate: int, seconds: int) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    ok = failed = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:

        async def one(n: int) -> None:
            nonlocal ok, failed
            response = await http.get(f"/fhir/Patient/pat-{n % 150 + 1:05d}")
            ok, failed = (ok + 1, failed) if response.status_code < 500 else (ok, failed + 1)

        start = time.perf_counter()
        tasks = []
        for n in range(rate * seconds):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
        print(f"sent {ok + failed} requests in {time.perf_counter() - start:.1f} s")
    return ok, failed


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
    server = start_server(["-m", "api.cli", "serve"], data, PORT)
    base = f"http://127.0.0.1:{PORT}"
    settings = Settings(data_dir=data, base_url=base)
    sub = "lag-bench"
    try:
        token = mint_token(settings, sub, "system/*.rs", ttl_s=3600, clearance=["R", "V"])
        auditor = mint_token(settings, "lag-auditor", "system/AuditEvent.rs", ttl_s=3600)
        ok, failed = asyncio.run(_paced_load(base, token, args.rate, args.seconds))
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
