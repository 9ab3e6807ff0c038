"""`serve --workers N`: every core serves. A supervisor process binds the listening socket,
prepares the data dir once (demo data, keys, outboxes), then starts and watches its
children, each `python -m api.boot.cli serve-process ...`:

- N API processes accept on the one inherited socket (the kernel hands each connection to
  one of them). Each writes an outbox of its own (`outbox.sqlite`, `outbox-1.sqlite`, ...:
  its own producer and hash chain), durable before its responses leave, as with one process.
- Embedded (no Kafka): one pipeline process (api.boot.pipeline_process) holds the evidence
  store, drains every outbox, runs detection and checkpoints, and serves the store to the API
  processes (auditor API, console). Their /readyz reads its health file.
- With Kafka and `--role api`: each API process relays its own outbox to Kafka; the stream
  workers run elsewhere (`fhir-evidence worker`), the store is a ClickHouse server.

A child that ends unexpectedly is restarted with back-off (1 s doubling to 30 s, anew after
60 s of running); one that exits 78 (a configuration error) stops everything with 78.
SIGTERM (or SIGINT) to the supervisor stops the API processes first (each finishes its
requests and closes its outbox), then the pipeline process, which drains every outbox into
the evidence store; the supervisor exits 0, or with the pipeline's code. Children run in a
session of their own (a terminal's Ctrl-C reaches only the supervisor) and stop by
themselves when the supervisor is gone.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from api.boot.health import EXIT_CONFIG, EXIT_SOFTWARE
from api.boot.pipeline_process import outbox_name
from api.settings import Settings
from stream.outbox import OutboxReader
from stream.supervision import HEALTHY_AFTER_S, restart_delay_s

log = structlog.get_logger("fhir_evidence.processes")
STOP_API_TIMEOUT_S = 30.0
STOP_PIPELINE_TIMEOUT_S = 60.0
PIPELINE_START_TIMEOUT_S = 120.0


@dataclass
class Child:
    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    popen: "subprocess.Popen[bytes] | None" = None
    failures: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        self.popen = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            self.argv, pass_fds=self.pass_fds, start_new_session=True
        )
        self.started_at, self.restart_at = time.monotonic(), None
        self.starts += 1
        log.info("process started", process=self.name, pid=self.popen.pid)

    @property
    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal(self, signum: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None  # noqa: S101
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("process did not stop in time; killed", process=self.name)
            self.popen.kill()
            return self.popen.wait(30)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host.strip("[]"), port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def prepare(settings: Settings, demo_data: bool, workers: int) -> None:
    """What every child would otherwise race for: the demo data, the keys, the outboxes
    (each with its producer id)."""
    from api.access.devissuer import load_or_create_key
    from api.boot.checkpointing import checkpoint_signer
    from api.boot.keys import hash_key
    from api.boot.runtime import DEMO_PATIENTS, DEMO_SEED, _now_iso
    from api.boot.stores import open_fhir_data
    from api.data.synthetic.dataset import generate_dataset

    repository = open_fhir_data(settings)
    try:
        if demo_data and not settings.upstream_fhir_url and repository.is_empty():
            count = repository.load_into_empty(
                generate_dataset(patients=DEMO_PATIENTS, seed=DEMO_SEED), _now_iso()
            )
            log.info("demo data loaded", resources=count)
    finally:
        repository.close()
    hash_key(settings)
    if settings.dev_issuer_enabled:
        load_or_create_key(settings.data_dir)
    checkpoint_signer(settings)
    for index in range(workers):
        OutboxReader(settings.data_dir / outbox_name(index), "prepare").close()


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int, workers: int, role: str) -> None:
        self.settings, self.workers, self.role = settings, workers, role
        self.sock = bind(host, port)
        self.rundir = Path(tempfile.mkdtemp(prefix="fhir-evidence-"))  # 0700: the bridge
        self.store_address = str(self.rundir / "store.sock")
        self.stopping = threading.Event()
        self.exit_code = 0
        embedded = not settings.kafka_bootstrap
        self.pipeline = Child("pipeline", self._argv("pipeline")) if embedded else None
        fd = self.sock.fileno()
        self.apis = [Child(f"api-{i}", self._argv("api", i, fd), (fd,)) for i in range(workers)]

    def _argv(self, kind: str, index: int = 0, fd: int = -1) -> list[str]:
        return [
            sys.executable, "-m", "api.boot.cli", "serve-process", kind, "--index", str(index),
            "--fd", str(fd), "--store-socket", self.store_address, "--parent", str(os.getpid()),
            "--role", self.role,
        ]  # fmt: skip

    @property
    def children(self) -> list[Child]:
        return [*([self.pipeline] if self.pipeline else []), *self.apis]

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        try:
            if self._start_pipeline():
                for child in self.apis:
                    child.start()
                while not self.stopping.wait(0.2):
                    self._supervise()
        finally:
            self._stop_all()
            self.sock.close()
            for leftover in self.rundir.iterdir():
                leftover.unlink(missing_ok=True)
            self.rundir.rmdir()
        return self.exit_code

    def _start_pipeline(self) -> bool:
        """The pipeline process first: the API processes' store bridge needs it."""
        if self.pipeline is None:
            return True
        self.pipeline.start()
        deadline = time.monotonic() + PIPELINE_START_TIMEOUT_S
        while not Path(self.store_address).exists():
            code = self.pipeline.exit_code
            if code is not None or self.stopping.is_set() or time.monotonic() > deadline:
                log.critical("pipeline process did not start", exit_code=code)
                self.exit_code = code or EXIT_SOFTWARE
                return False
            time.sleep(0.05)
        return True

    def _supervise(self) -> None:
        now = time.monotonic()
        for child in self.children:
            code = child.exit_code
            if code is None:
                if child.failures and now - child.started_at >= HEALTHY_AFTER_S:
                    child.failures = 0
                continue
            if code == EXIT_CONFIG:
                log.critical("process ended on a configuration error; stopping", process=child.name)
                self.exit_code = EXIT_CONFIG
                self.stopping.set()
                return
            if child.restart_at is None:
                child.failures += 1
                delay = restart_delay_s(child.failures)
                child.restart_at = now + delay
                log.error("process ended; restarting", process=child.name, exit_code=code,
                          attempt=child.failures, backoff_s=delay)  # fmt: skip
            if now >= child.restart_at:
                child.start()

    def _stop_all(self) -> None:
        for child in self.apis:  # first: nothing new enters the outboxes
            child.signal(signal.SIGTERM)
        for child in self.apis:
            if child.popen is not None:
                child.wait(STOP_API_TIMEOUT_S)
        if self.pipeline is not None and self.pipeline.popen is not None:
            self.pipeline.signal(signal.SIGTERM)
            code = self.pipeline.wait(STOP_PIPELINE_TIMEOUT_S)
            if code not in (0, -signal.SIGTERM) and not self.exit_code:
                self.exit_code = code if code > 0 else EXIT_SOFTWARE


def run_supervised(settings: Settings, host: str, port: int, workers: int, demo_data: bool,
                   role: str) -> int:  # fmt: skip
    prepare(settings, demo_data, workers)
    return Supervisor(settings, host, port, workers, role).run()
