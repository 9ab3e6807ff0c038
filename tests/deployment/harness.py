"""A multi-process deployment for tests: N `fhir-evidence serve --role api` replicas and M
`fhir-evidence worker`s as subprocesses on one Kafka broker, each with its own data dir,
sharing a hash key, a token issuer, a topic prefix and a consumer group of the test's own.

Processes can be killed with SIGKILL, terminated (SIGTERM) and restarted (same data dir,
same port), or started with per-process environment overrides (e.g.
FHIR_EVIDENCE_FHIR_STORE_URL for a shared PostgreSQL)."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import TestIssuer, free_port

BASE_URL = "http://fhir-evidence.test"  # every replica's public address (behind one balancer)
HASH_KEY = "deployment-test-hash-key-0123456789abcdef"
RELAY = "kafka-relay"  # the relay's position name in the outbox (api.boot.kafka.RELAY_CONSUMER)


@dataclass
class Proc:
    """One `fhir-evidence` process: role "api" (serve --role api) or "worker"."""

    name: str
    role: str
    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    serving: bool = False  # a load balancer's view: ready, and not being stopped

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.name}.log"

    def command(self) -> list[str]:
        base = [sys.executable, "-m", "api.boot.cli"]
        if self.role == "api":
            return [*base, "serve", "--role", "api", "--port", str(self.port)]
        return [*base, "worker"]

    def launch(self) -> "Proc":
        """Start the process (not waiting for it to be ready)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        if self.role == "worker":
            env.setdefault("FHIR_EVIDENCE_WORKER_METRICS_PORT", str(self.port))
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.command(), env=env, stdout=log, stderr=log)
        self.starts += 1
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ready(self) -> bool:
        """`GET /readyz` answers 200: every check of the process holds (the FHIR store, the
        outbox, Kafka and the relay, the workers, the evidence store)."""
        if self.popen is None or self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen and self.popen.returncode}"
                               f"\n{self.log_tail()}")  # fmt: skip
        try:  # the API's port, or the worker's metrics port (beside its /metrics)
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 120.0) -> "Proc":
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready in {timeout:.0f}s\n{self.log_tail()}")
            time.sleep(0.2)
        self.serving = True
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed or drained."""
        self.serving = False
        if self.running():
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait(30)

    def terminate(self, timeout: float = 60.0) -> int | None:
        """SIGTERM: the graceful stop (the API drains its relay, the worker its batch).
        Returns the exit status: 0, or -SIGTERM where uvicorn re-raises the signal after
        its graceful shutdown."""
        self.serving = False
        if not self.running():
            return self.popen.returncode if self.popen else None
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(30)

    def restart(self, timeout: float = 120.0) -> "Proc":
        self.terminate()
        return self.launch().wait_ready(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def outbox_files(self) -> list[str]:
        """The replica's outboxes: one per API process (`serve --workers N`)."""
        return sorted(p.name for p in self.data_dir.glob("outbox*.sqlite")) or ["outbox.sqlite"]

    def outbox_progress(self, name: str = "outbox.sqlite") -> tuple[int, int]:
        """(last sequence written, last sequence the relay had acknowledged by Kafka), read
        from one of the replica's outbox files (SQLite, safe beside the running process)."""
        path = self.data_dir / name
        if not path.exists():
            return 0, 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            last = conn.execute("SELECT max(sequence) FROM outbox").fetchone()[0] or 0
            row = conn.execute("SELECT sequence FROM positions WHERE name = ?", (RELAY,))
            relayed = (row.fetchone() or (0,))[0]
        return int(last), int(relayed)


@dataclass
class Deployment:
    """The processes of one test on `bootstrap`; `stop()` in a finally (or the fixture)."""

    base: Path
    bootstrap: str
    issuer: TestIssuer
    partitions: int = 3
    env: dict[str, str] = field(default_factory=dict)  # overrides for every process
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, Proc] = field(default_factory=dict)
    fhir_data: Path | None = None  # a fhir.sqlite to copy into each new replica's data dir

    def __post_init__(self) -> None:
        self.issuer.audience = f"{BASE_URL}/fhir"

    @property
    def topic_prefix(self) -> str:
        return f"dep{self.tag}."

    @property
    def group(self) -> str:
        return f"dep{self.tag}-workers"

    def shared_env(self) -> dict[str, str]:
        jwks = self.issuer.write_jwks(self.base / "issuer-jwks.json")
        env = dict(os.environ)
        env.update(
            FHIR_EVIDENCE_BASE_URL=BASE_URL,
            FHIR_EVIDENCE_TRUSTED_ISSUERS=json.dumps(
                [{"issuer": self.issuer.issuer, "jwks_file": str(jwks)}]
            ),
            FHIR_EVIDENCE_KAFKA_BOOTSTRAP=self.bootstrap,
            FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX=self.topic_prefix,
            FHIR_EVIDENCE_KAFKA_GROUP=self.group,
            FHIR_EVIDENCE_KAFKA_PARTITIONS=str(self.partitions),
            FHIR_EVIDENCE_HASH_KEY=HASH_KEY,
            FHIR_EVIDENCE_LOG_LEVEL="INFO",
            # a replica is one process (not one per core): its outbox, pid and relay position
            # are what the harness reads, kills and restarts
            FHIR_EVIDENCE_WORKERS="1",
        )
        env.update(self.env)
        return env

    def add(self, name: str, role: str, data_dir: Path | None = None, **env: str) -> Proc:
        """A process of `role` with its own data dir (default: <base>/<name>) and `env`
        over the shared environment; not started. An API replica's new data dir gets a copy
        of `fhir_data` (the demo data set, loaded once) instead of loading it at start-up."""
        proc = Proc(name, role, data_dir or self.base / name, {**self.shared_env(), **env})
        proc.env["FHIR_EVIDENCE_DATA_DIR"] = str(proc.data_dir)
        if role == "api" and self.fhir_data is not None and not proc.data_dir.exists():
            proc.data_dir.mkdir(parents=True)
            shutil.copyfile(self.fhir_data, proc.data_dir / "fhir.sqlite")
        self.procs[name] = proc
        return proc

    def start(self, *names: str, timeout: float = 120.0) -> None:
        """Launch the named processes (default: all not running) together, then wait for
        each to be ready."""
        chosen = [self.procs[n] for n in names] or [
            p for p in self.procs.values() if not p.running()
        ]
        for proc in chosen:
            proc.launch()
        for proc in chosen:
            proc.wait_ready(timeout)

    def role(self, role: str) -> list[Proc]:
        return [p for p in self.procs.values() if p.role == role]

    @property
    def apis(self) -> list[Proc]:
        return self.role("api")

    @property
    def workers(self) -> list[Proc]:
        return self.role("worker")

    def stop(self) -> None:
        """Terminate the API replicas first (their relays drain), then the workers."""
        for proc in self.apis:
            proc.terminate()
        for proc in self.workers:
            proc.terminate()
