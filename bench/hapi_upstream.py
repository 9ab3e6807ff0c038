"""A real HAPI FHIR JPA server (R4, in-memory H2), run from the Maven Central jars by
scripts/hapi.sh, and seeded with our demo data through HAPI's own REST API (transaction
Bundles of PUTs: every resource keeps its id). The upstream of gateway mode's tests (the
fixture `hapi_upstream` in tests/hapi_server.py) and the unguarded peer of
bench.guarded_reads. Plain functions, no pytest:

    upstream = start_hapi(Path(tempfile.mkdtemp()))
    seed(upstream.base_url, demo_resources())
    ...
    upstream.stop()
"""

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.boot.runtime import DEMO_PATIENTS, DEMO_SEED
from api.data.synthetic.dataset import generate_dataset
from bench.server_scripts import ServerScriptError, run_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "hapi.sh"
FHIR_JSON = "application/fhir+json"
# Resources per transaction Bundle: HAPI commits each Bundle as one database transaction.
SEED_BATCH = 500
# Bundles sent at once: HAPI runs each in a request thread of its own.
SEED_WORKERS = 2


class HapiServerError(ServerScriptError):
    """scripts/hapi.sh could not build, start or stop the server, or seeding failed.
    `summary` is one line; str() adds what the script printed (maven errors, the server's
    last log lines)."""


def run_hapi_script(command: str, state_dir: Path, timeout: float) -> str:
    """`bash scripts/hapi.sh command state_dir`, with this process as HAPI_WATCH_PID (the
    script stops the server when this process dies); its stdout, stripped."""
    return run_script(SCRIPT, command, state_dir, timeout, "HAPI_WATCH_PID", HapiServerError)


@dataclass
class HapiUpstream:
    """One HAPI server with its state (base_url, pid, logs) in `state_dir`, or an external
    one (`state_dir` None, `external_url` its base URL)."""

    state_dir: Path | None
    start_timeout: float = 300.0
    started_in: float | None = None  # seconds the last start() took
    seeded_in: float | None = None  # seconds seed_demo() took
    # "Type/id" of every resource seed_demo() stored, in the order they were sent.
    seeded_ids: list[str] = field(default_factory=list)
    external_url: str | None = None

    def _run(self, command: str, timeout: float) -> str:
        if self.state_dir is None:
            raise HapiServerError(f"{self.external_url} is an external server: cannot {command}")
        return run_hapi_script(command, self.state_dir, timeout)

    def start(self) -> str:
        """Start (or find running) and return the base URL once /metadata answers. A restart
        keeps the port but not the data (the database is in memory)."""
        began = time.monotonic()
        # hapi.sh waits HAPI_START_TIMEOUT (default 240 s); allow for a first build too.
        self._run("start", self.start_timeout + 120)
        self.started_in = time.monotonic() - began
        return self.base_url

    def stop(self) -> None:
        """SIGTERM, SIGKILL if it has not exited within 30 s."""
        self._run("stop", 60)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._run("kill", 30)

    @property
    def running(self) -> bool:
        try:
            self._run("status", 30)
        except HapiServerError:
            return False
        return True

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/fhir`, fixed once the server first started."""
        if self.external_url:
            return self.external_url.rstrip("/")
        assert self.state_dir is not None
        path = self.state_dir / "base_url"
        if not path.exists():
            raise HapiServerError("the HAPI server has not been started yet")
        return path.read_text().strip()

    @property
    def pid(self) -> int | None:
        """The JVM's pid while it runs (for its RSS)."""
        if self.state_dir is None or not (self.state_dir / "pid").exists():
            return None
        return int((self.state_dir / "pid").read_text().strip())

    def rss_bytes(self) -> int | None:
        pid = self.pid
        try:
            status = Path(f"/proc/{pid}/status").read_text() if pid else ""
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def seed_demo(self, patients: int = DEMO_PATIENTS, seed_value: int = DEMO_SEED) -> list[str]:
        """Store the demo data set (`serve`'s: DEMO_PATIENTS patients, DEMO_SEED) through
        HAPI's REST API; returns and remembers the "Type/id" of each resource."""
        began = time.monotonic()
        self.seeded_ids = seed(self.base_url, demo_resources(patients, seed_value))
        self.seeded_in = time.monotonic() - began
        return self.seeded_ids

    def log_text(self) -> str:
        if self.state_dir is None:
            return ""
        path = self.state_dir / "logs" / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def demo_resources(
    patients: int = DEMO_PATIENTS, seed_value: int = DEMO_SEED
) -> list[dict[str, Any]]:
    """The demo data set `fhir-evidence serve` loads into an empty store (same ids)."""
    return generate_dataset(patients=patients, seed=seed_value)


def start_hapi(
    state_dir: Path, start_timeout: float = 300.0, jvm_opts: str | None = None
) -> HapiUpstream:
    """Build (first time: Maven Central) and start a HAPI server with its state in
    `state_dir`; it is stopped when this process exits, or by `.stop()`. Empty: `seed` it.
    `jvm_opts` replaces HAPI_JVM_OPTS (default: C1 only, for a quick start): a benchmark
    wants the full JIT, e.g. "-XX:+UseParallelGC"."""
    upstream = HapiUpstream(state_dir, start_timeout=start_timeout)
    saved = os.environ.get("HAPI_JVM_OPTS")
    if jvm_opts is not None:
        os.environ["HAPI_JVM_OPTS"] = jvm_opts
    try:
        upstream.start()
    finally:
        if jvm_opts is not None:
            if saved is None:
                os.environ.pop("HAPI_JVM_OPTS", None)
            else:
                os.environ["HAPI_JVM_OPTS"] = saved
    return upstream


def seed(
    base_url: str,
    resources: Sequence[dict[str, Any]],
    batch: int = SEED_BATCH,
    workers: int = SEED_WORKERS,
    timeout: float = 600.0,
) -> list[str]:
    """PUT every resource by its id (an update-as-create: HAPI keeps the id) in transaction
    Bundles of about `batch` entries. The Bundles before the first Patient (the demo data
    set's Practitioners, which everything may reference) go first, in order; then a Bundle
    starts only at a Patient (its records never reference another patient's), and
    `workers` of them are sent at once. Returns the "Type/id" of each resource. Raises
    HapiServerError with HAPI's OperationOutcome when a Bundle is refused."""
    base = base_url.rstrip("/")
    ids = [f"{resource['resourceType']}/{resource['id']}" for resource in resources]
    first_patient = next(
        (n for n, r in enumerate(resources) if r["resourceType"] == "Patient"), len(resources)
    )
    shared = [(n, min(n + batch, first_patient)) for n in range(0, first_patient, batch)]
    grouped: list[tuple[int, int]] = []
    begin = first_patient
    for n in range(first_patient + 1, len(resources) + 1):
        if n == len(resources) or (
            n - begin >= batch and resources[n]["resourceType"] == "Patient"
        ):
            grouped.append((begin, n))
            begin = n

    def send(client: httpx.Client, span: tuple[int, int]) -> None:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"{base}/{ids[n]}",
                    "resource": resources[n],
                    "request": {"method": "PUT", "url": ids[n]},
                }
                for n in range(*span)
            ],
        }
        answer = client.post("", json=bundle, headers={"Content-Type": FHIR_JSON})
        if answer.status_code != 200:
            raise HapiServerError(
                f"seeding: HAPI answered {answer.status_code} to a transaction of "
                f"{span[1] - span[0]} resources (from {ids[span[0]]})",
                answer.text[:4000],
            )

    limits = httpx.Limits(max_connections=max(1, workers))
    with httpx.Client(base_url=base, timeout=timeout, limits=limits) as client:
        for span in shared:
            send(client, span)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for done in [pool.submit(send, client, span) for span in grouped]:
                done.result()
    return ids


def already_seeded(base_url: str) -> bool:
    """Whether the demo data set's last resource is there (seeded before)."""
    last = demo_resources()[-1]
    url = f"{base_url.rstrip('/')}/{last['resourceType']}/{last['id']}"
    return httpx.get(url, headers={"Accept": FHIR_JSON}, timeout=30).status_code == 200
