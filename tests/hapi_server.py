"""A real HAPI FHIR JPA server (R4, in-memory H2) as the upstream of gateway mode, run from
the Maven Central jars by scripts/hapi.sh, and seeded with our demo data through HAPI's own
REST API (transaction Bundles of PUTs: every resource keeps its id, so a gateway test uses
the same ids as the stored backends' tests).

Tests: the session fixture `hapi_upstream` (started once, seeded once; `base_url` is
`http://127.0.0.1:PORT/fhir`). Benchmarks and scripts: `start_hapi(state_dir)` and
`seed(base_url, resources)`, plain functions:

    upstream = start_hapi(Path(tempfile.mkdtemp()))
    seed(upstream.base_url, demo_resources())
    ...
    upstream.stop()
"""

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from api.boot.runtime import DEMO_PATIENTS, DEMO_SEED
from api.data.synthetic.dataset import generate_dataset
from tests.server_scripts import ServerScriptError, run_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "hapi.sh"
URL_VARIABLE = "FHIR_EVIDENCE_TEST_HAPI_URL"
FHIR_JSON = "application/fhir+json"
# Resources per transaction Bundle: HAPI commits each Bundle as one database transaction.
SEED_BATCH = 500


class HapiServerError(ServerScriptError):
    """scripts/hapi.sh could not build, start or stop the server, or seeding failed.
    `summary` is one line; str() adds what the script printed (maven errors, the server's
    last log lines)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@dataclass
class HapiUpstream:
    """One HAPI server with its state (base_url, pid, logs) in `state_dir`; an external one
    (`state_dir` None) when FHIR_EVIDENCE_TEST_HAPI_URL names it."""

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
        return run_script(
            SCRIPT, command, self.state_dir, timeout, "HAPI_WATCH_PID", HapiServerError
        )

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


def start_hapi(state_dir: Path, start_timeout: float = 300.0) -> HapiUpstream:
    """Build (first time: Maven Central) and start a HAPI server with its state in
    `state_dir`; it is stopped when this process exits, or by `.stop()`. Empty: `seed` it."""
    upstream = HapiUpstream(state_dir, start_timeout=start_timeout)
    upstream.start()
    return upstream


def seed(
    base_url: str,
    resources: Sequence[dict[str, Any]],
    batch: int = SEED_BATCH,
    timeout: float = 600.0,
) -> list[str]:
    """PUT every resource by its id (an update-as-create: HAPI keeps the id), in transaction
    Bundles of `batch` entries sent in order (referenced resources first, as the demo data
    set is ordered). Returns the "Type/id" of each resource. Raises HapiServerError with
    HAPI's OperationOutcome when a Bundle is refused."""
    ids = [f"{resource['resourceType']}/{resource['id']}" for resource in resources]
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as client:
        for start in range(0, len(resources), batch):
            chunk = resources[start : start + batch]
            bundle = {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "fullUrl": f"{base_url.rstrip('/')}/{ids[start + offset]}",
                        "resource": resource,
                        "request": {"method": "PUT", "url": ids[start + offset]},
                    }
                    for offset, resource in enumerate(chunk)
                ],
            }
            answer = client.post(
                "", json=bundle, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
            )
            if answer.status_code != 200:
                raise HapiServerError(
                    f"seeding: HAPI answered {answer.status_code} to a transaction of "
                    f"{len(chunk)} resources (from {ids[start]})",
                    answer.text[:4000],
                )
    return ids


def _already_seeded(base_url: str) -> bool:
    last = demo_resources()[-1]
    url = f"{base_url.rstrip('/')}/{last['resourceType']}/{last['id']}"
    return httpx.get(url, headers={"Accept": FHIR_JSON}, timeout=30).status_code == 200


# --- pytest --------------------------------------------------------------------------------


def _hapi_unavailable(reason: str) -> NoReturn:
    """Under CI a HAPI test must run: fail it. Elsewhere skip it, saying why."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: HAPI upstream tests must not be skipped)", pytrace=False)
    print(f"\nHAPI upstream unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def hapi_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HapiUpstream]:
    """A HAPI FHIR JPA server seeded with the demo data set, started once per session (on
    first use) and stopped at its end. $FHIR_EVIDENCE_TEST_HAPI_URL uses a running server
    instead (seeded by this fixture unless the demo data set's last resource is there)."""
    external = os.environ.get(URL_VARIABLE)
    if external:
        upstream = HapiUpstream(None, external_url=external)
    else:
        upstream = HapiUpstream(tmp_path_factory.mktemp("hapi"))
        try:
            upstream.start()
        except HapiServerError as exc:
            _hapi_unavailable(exc.summary)
    try:
        if external and _already_seeded(upstream.base_url):
            upstream.seeded_ids = [f"{r['resourceType']}/{r['id']}" for r in demo_resources()]
        else:
            upstream.seed_demo()
    except (HapiServerError, httpx.HTTPError) as exc:
        if upstream.state_dir is not None:
            upstream.stop()
        summary = exc.summary if isinstance(exc, HapiServerError) else repr(exc)
        _hapi_unavailable(f"seeding the HAPI upstream failed: {summary}")
    rss = upstream.rss_bytes()
    print(
        f"\nHAPI upstream {upstream.base_url}: started in {upstream.started_in or 0:.1f}s, "
        f"{len(upstream.seeded_ids)} resources seeded in {upstream.seeded_in or 0:.1f}s"
        + (f", RSS {rss / 2**20:.0f} MiB" if rss else "")
    )
    yield upstream
    if upstream.state_dir is not None:
        upstream.stop()
