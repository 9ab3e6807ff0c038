"""The servers bench.evidence_lag measures, and reading their evidence back.

embedded: `fhir-evidence serve --workers N`: API processes, their outboxes and the pipeline
into the chDB store in the data dir, which the auditor API reads.

kafka: a broker (bench.kafka_pipeline.broker: $KAFKA_BOOTSTRAP or scripts/kafka.sh),
`fhir-evidence serve --role api --workers N` (API processes + outbox relays) and
`fhir-evidence worker` (Kafka -> stream step -> evidence store), each with a data dir of its
own, sharing a hash key, a topic prefix and a consumer group of the run's own. With
$CLICKHOUSE_URL both use that server and the auditor API reads it (as the tests take a
server: $CLICKHOUSE_URL or a container). Without one (this machine has neither a server nor
Docker) the worker writes a chDB store in its data dir, which only one process may open (the
API processes keep stores of their own that no worker writes): the API is stopped (its
relays drain), the worker's stored-row counter is watched until it stops moving, the worker
is stopped and its store read, as tests/deployment does. stored_at is stamped by the store
on insert, so reading it later does not change a lag.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import clickhouse_connect
import httpx

from api.boot.workers import available_cores, default_workers
from bench.harness import ROOT, start_server, stop_server
from bench.kafka_pipeline import broker, stop_broker

PORT = 8211
WORKER_PORT = 8212  # the worker's /metrics and /readyz
SINK_ROWS = re.compile(r'^fhir_evidence_sink_rows_total\{runtime="kafka"\} (\S+)$', re.M)


@dataclass
class Deployment:
    mode: str
    work: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: list["subprocess.Popen[bytes]"] = field(default_factory=list)
    started_broker: bool = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{PORT}"

    @property
    def api_dir(self) -> Path:
        return self.work / "api"

    @property
    def worker_dir(self) -> Path:
        return self.work / "worker"

    @property
    def reads_api(self) -> bool:
        """The auditor API sees what the pipeline stored (not Kafka with a worker's chDB)."""
        return self.mode == "embedded" or bool(os.environ.get("CLICKHOUSE_URL"))


def server_default_workers() -> int:
    """What `serve` runs without --workers: FHIR_EVIDENCE_WORKERS, else one API process per
    core (bench.harness.start_server pins one, so the count is passed explicitly)."""
    if os.environ.get("FHIR_EVIDENCE_WORKERS"):
        return int(os.environ["FHIR_EVIDENCE_WORKERS"])
    return default_workers(available_cores())


def start(mode: str, workers: int, work: Path) -> Deployment:
    deployment = Deployment(mode, work)
    serve = ["-m", "api.boot.cli", "serve", "--workers", str(workers)]
    if mode == "embedded":
        deployment.processes.append(start_server(serve, deployment.api_dir, PORT))
        return deployment
    deployment.started_broker = not os.environ.get("KAFKA_BOOTSTRAP")
    env = _kafka_env(broker(work / "kafka"), deployment.tag)
    try:
        deployment.processes.append(
            start_server([*serve, "--role", "api"], deployment.api_dir, PORT, env)
        )
        deployment.worker_dir.mkdir(parents=True)  # enrichment reads the same demo data
        shutil.copyfile(deployment.api_dir / "fhir.sqlite", deployment.worker_dir / "fhir.sqlite")
        deployment.processes.append(_start_worker(deployment.worker_dir, env))
    except BaseException:
        stop(deployment)
        raise
    return deployment


def _kafka_env(bootstrap: str, tag: str) -> dict[str, str]:
    env = {
        "FHIR_EVIDENCE_KAFKA_BOOTSTRAP": bootstrap,
        "FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX": f"lag{tag}.",
        "FHIR_EVIDENCE_KAFKA_GROUP": f"lag{tag}-workers",
        "FHIR_EVIDENCE_HASH_KEY": f"evidence-lag-bench-hash-key-{tag}",
    }
    if os.environ.get("CLICKHOUSE_URL"):
        env["FHIR_EVIDENCE_CLICKHOUSE_URL"] = os.environ["CLICKHOUSE_URL"]
    return env


def _start_worker(data_dir: Path, kafka_env: dict[str, str]) -> "subprocess.Popen[bytes]":
    env = dict(os.environ, FHIR_EVIDENCE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT),
               FHIR_EVIDENCE_BASE_URL=f"http://127.0.0.1:{PORT}",
               FHIR_EVIDENCE_WORKER_METRICS_PORT=str(WORKER_PORT), **kafka_env)  # fmt: skip
    log = open(data_dir.parent / "worker.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "api.boot.cli", "worker"], env=env,
                               stdout=log, stderr=log, cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{WORKER_PORT}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(process)
    raise RuntimeError(f"the worker did not become ready (see {data_dir.parent / 'worker.log'})")


def stop(deployment: Deployment) -> None:
    """Every process, API first (it drains its outbox), then the broker if it was ours."""
    for process in deployment.processes:
        stop_server(process)
    if deployment.started_broker:
        stop_broker(deployment.work / "kafka")
        deployment.started_broker = False


def lags(deployment: Deployment, sub: str, auditor: str, expected: int) -> list[float]:
    """stored_at - event time (s) of every stored event of `sub`, once all `expected` are
    stored or the count stopped growing (the rest are missing)."""
    if deployment.reads_api:
        found: list[float] = []
        for _ in range(30):  # the count grows while the pipeline catches up
            time.sleep(2)
            previous, found = len(found), _read_api(deployment.base, auditor, sub)
            if len(found) >= expected or len(found) == previous:
                break
        return found
    api, worker = deployment.processes
    stop_server(api)  # SIGTERM: its relay drains the outbox to Kafka
    _wait_stored(worker)
    stop_server(worker)
    return _read_chdb(deployment.worker_dir / "evidence", sub)


def _read_api(base: str, auditor: str, sub: str) -> list[float]:
    found: list[float] = []
    url: str | None = f"{base}/audit/principals/{sub}/accesses?_count=1000"
    with httpx.Client(headers={"Authorization": f"Bearer {auditor}"}, timeout=60) as http:
        while url:
            body = http.get(url).json()
            for access in body["accesses"]:
                sent = datetime.fromisoformat(access["time"])
                recorded = datetime.fromisoformat(access["recorded_at"])
                found.append((recorded - sent).total_seconds())
            url = body.get("next")
    return found


def _wait_stored(worker: "subprocess.Popen[bytes]", still_s: float = 3.0) -> None:
    """Until the worker's stored-row counter has not moved for `still_s` (at most 120 s)."""
    last, since, deadline = -1.0, time.monotonic(), time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        text = httpx.get(f"http://127.0.0.1:{WORKER_PORT}/metrics", timeout=5).text
        stored = sum(float(v) for v in SINK_ROWS.findall(text))
        if stored != last:
            last, since = stored, time.monotonic()
        elif time.monotonic() - since >= still_s:
            return
        time.sleep(0.5)


def _read_chdb(path: Path, sub: str) -> list[float]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{path.resolve()}")
    rows = client.query(
        "SELECT ts_us, toUnixTimestamp64Milli(stored_at) FROM evidence.access_events FINAL "
        "WHERE sub = {sub:String}",
        parameters={"sub": sub},
    ).result_rows
    return [stored_ms / 1000 - ts_us / 1_000_000 for ts_us, stored_ms in rows]
