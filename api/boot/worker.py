"""`fhir-evidence worker`: the stream workers in the foreground, stopped by SIGTERM/SIGINT,
with the process's Prometheus metrics on FHIR_EVIDENCE_WORKER_METRICS_HOST:_PORT/metrics."""

import signal
from collections.abc import Callable

import structlog
from prometheus_client import start_http_server

from api.boot.kafka import build_workers
from api.boot.keys import HASH_KEY_VERSION, hash_key
from api.boot.stores import open_evidence
from api.settings import Settings
from evidence.core import Pseudonymizer

log = structlog.get_logger("fhir_evidence.worker")


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Serve this process's metrics registry over HTTP on a thread; returns what stops it.
    Port 0 serves nothing. A port that cannot be bound is logged and the worker goes on:
    evidence processing never waits for its own metrics."""
    if port == 0:
        return lambda: None
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as exc:
        log.error("worker metrics not served", host=host, port=port, error=str(exc))
        return lambda: None
    log.info("worker metrics served", host=host, port=port, path="/metrics")

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def run_worker(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_evidence(settings)
    pseudonymizer = Pseudonymizer(hash_key(settings), HASH_KEY_VERSION)
    host, alerting = build_workers(settings, store, pseudonymizer)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: host.request_stop())
    stop_metrics = serve_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    alerting.start()
    try:
        host.run()
    finally:
        alerting.stop()
        stop_metrics()
        store.close()
    return 0
