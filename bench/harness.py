"""Benchmark plumbing: start servers as separate processes, drive load with wrk, parse it."""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class LoadResult:
    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self) -> str:
        return (
            f"{self.label:<34} {self.requests_per_s:>9.0f} req/s   p50 {self.p50_ms:>7.2f} ms"
            f"   p99 {self.p99_ms:>7.2f} ms   non-2xx {self.errors}"
        )


def start_server(
    args: list[str], data_dir: Path, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        FHIR_EVIDENCE_DATA_DIR=str(data_dir),
        FHIR_EVIDENCE_BASE_URL=f"http://127.0.0.1:{port}",
        PYTHONPATH=str(ROOT),
        # one benchmark principal sends thousands of requests a second: the limiter runs
        # (its cost is measured) but must not throttle the load generator
        FHIR_EVIDENCE_RATE_LIMIT_PER_S="1000000",
        FHIR_EVIDENCE_RATE_LIMIT_BURST="1000000",
        # one API process unless a benchmark asks for more (`serve --workers N` wins, as
        # bench.guarded_reads does): the others' numbers are one process's, whatever the cores
        FHIR_EVIDENCE_WORKERS="1",
    )
    env.update(extra_env or {})  # may override any of the above
    log = open(data_dir.parent / f"server-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)], env=env, stdout=log, stderr=log, cwd=ROOT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    label: str,
    base: str,
    paths: list[str],
    token: str,
    seconds: int,
    connections: int,
    workdir: Path,
) -> LoadResult:
    """wrk with a Lua script cycling over `paths`; one wrk thread leaves a core to the server."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    script = workdir / f"paths-{abs(hash(label))}.lua"
    lua_paths = ", ".join(f'"{p}"' for p in paths)
    script.write_text(
        f"local paths = {{{lua_paths}}}\nlocal i = 0\n"
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return LoadResult(label, rps, p50, p99, int(errors_match.group(1)) if errors_match else 0)


def care_team_patients(data_dir: Path, practitioner: str) -> list[str]:
    with sqlite3.connect(data_dir / "fhir.sqlite") as db:
        rows = db.execute(
            "SELECT DISTINCT m.patient_id FROM care_team_members m JOIN resources r "
            "ON r.type = 'Patient' AND r.id = m.patient_id AND r.labels = '' "
            "WHERE m.practitioner = ? ORDER BY 1",
            (practitioner,),
        ).fetchall()
    return [row[0] for row in rows]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
