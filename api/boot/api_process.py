"""One API process of `serve --workers N` (api.boot.processes): the app on the socket the
supervisor bound, writing outbox number `index`, with the evidence store of the pipeline
process (embedded) or of the ClickHouse server (FHIR_EVIDENCE_CLICKHOUSE_URL).

Its /readyz holds what it checks itself (fhir_store, outbox; with Kafka the relay and the
broker) and, embedded, the pipeline process's health: `workers` fails while the pipeline's
health file is missing, stale or says its outbox fan-in is down, `evidence_store` while it
says the step waits for the store or the store bridge does not answer.
"""

import json
import os
import signal
import socket
import time
from pathlib import Path

from api.boot.pipeline_process import (
    HEALTH_FILE,
    METRICS_FILE,
    outbox_name,
    parent_watch,
    store_authkey,
)
from api.http.metrics import bind_process
from api.settings import Settings
from stream.health import Probe

HEALTH_MAX_AGE_S = 5.0  # the pipeline writes it every 0.5 s


class PipelineReport:
    """The pipeline process's health file, read on the watchdog's beat."""

    def __init__(self, path: Path, max_age_s: float = HEALTH_MAX_AGE_S) -> None:
        self._path, self._max_age_s = path, max_age_s
        self.failing: list[str] | None = None  # None: no fresh report
        self.probe = Probe("workers", self._read)

    def _read(self) -> bool:
        try:
            report = json.loads(self._path.read_text())
            fresh = time.time() - float(report["at"]) <= self._max_age_s
            self.failing = [str(name) for name in report["failing"]] if fresh else None
        except (OSError, ValueError, KeyError, TypeError):
            self.failing = None
        return self.workers_ok()

    def workers_ok(self) -> bool:
        return self.failing is not None and "workers" not in self.failing

    def store_ok(self) -> bool:
        return self.failing is not None and "evidence_store" not in self.failing


class PipelineMetrics:
    """The pipeline process's metrics file, for this process's GET /metrics: [("pipeline",
    its text)] while fresh, [] while missing or stale (a pipeline down shows no metrics)."""

    def __init__(self, path: Path, max_age_s: float = HEALTH_MAX_AGE_S) -> None:
        self._path, self._max_age_s = path, max_age_s

    def __call__(self) -> list[tuple[str, str]]:
        try:
            if time.time() - self._path.stat().st_mtime > self._max_age_s:
                return []
            return [("pipeline", self._path.read_text())]
        except OSError:
            return []


def run_api_process(settings: Settings, index: int, fd: int, store_address: str, role: str,
                    parent_pid: int) -> None:  # fmt: skip
    import uvicorn

    from api.boot.app import create_app
    from api.boot.health import stop_server
    from api.boot.runtime import build_runtime
    from api.boot.stores import open_evidence
    from evidence.store.remote import remote_store

    embedded = not settings.kafka_bootstrap
    store = remote_store(store_address, store_authkey(settings)) if embedded else None
    own_store = not embedded and not settings.clickhouse_url
    if own_store:  # chDB allows one process per store: each keeps one (see local_store)
        store = open_evidence(settings, local_store(index))
    runtime = build_runtime(settings, demo_data=False, store=store, inline=False,
                            role="api", outbox_name=outbox_name(index))  # fmt: skip
    runtime.owns_store = runtime.owns_store or own_store
    pipeline = runtime.pipeline
    assert pipeline is not None  # noqa: S101 (build_runtime always builds it)
    if embedded:
        report = PipelineReport(settings.data_dir / HEALTH_FILE)
        pipeline.health.add("workers", report.probe)
        pipeline.health.add("evidence_store", report.store_ok)
    pipeline.beats.append(parent_watch(parent_pid, _terminate_self))
    peers = PipelineMetrics(settings.data_dir / METRICS_FILE) if embedded else list
    bind_process(f"api-{index}", peers)
    config = uvicorn.Config(
        create_app(runtime), access_log=False, log_level="warning", lifespan="on",
        timeout_graceful_shutdown=10, proxy_headers=False,  # as `serve` (api.boot.cli)
    )  # fmt: skip
    server = uvicorn.Server(config)
    runtime.on_fatal = stop_server(server)
    server.run(sockets=[socket.socket(fileno=fd)])
    if runtime.exit_code is not None:
        raise SystemExit(runtime.exit_code)


def local_store(index: int) -> str:
    """Kafka without FHIR_EVIDENCE_CLICKHOUSE_URL: API process `index`'s chDB directory in the
    data dir (the first keeps the single process's). Like a single `--role api` process's
    (api.boot.runtime warns), the workers elsewhere do not write it."""
    return "evidence" if index == 0 else f"evidence-api-{index}"


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
