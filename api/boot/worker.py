"""`fhir-evidence worker`: the stream workers in the foreground, stopped by SIGTERM/SIGINT,
with the process's Prometheus metrics and its health on FHIR_EVIDENCE_WORKER_METRICS_HOST:
_PORT (`/metrics`, `/livez`, `/readyz`).

Exit codes: 0 after a stop asked for; 78 when a Kafka topic has the wrong shape (the message
names the topic and the fix); 70 when a pipeline task failed beyond retrying (an agent's
crash exits at once, without committing its batch).
"""

import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.boot.health import EXIT_CONFIG, EXIT_SOFTWARE, worker_health
from api.boot.kafka import build_workers
from api.boot.keys import HASH_KEY_VERSION, hash_key
from api.boot.stores import open_evidence
from api.http.health import Failing, health_answer
from api.settings import Settings
from evidence.core import Pseudonymizer
from stream.kafka.admin import TopologyMismatch

log = structlog.get_logger("fhir_evidence.worker")


def _handler(failing: Failing) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            answer = health_answer(path, failing)
            if answer is not None:
                status, body, kind = answer[0], answer[1], "application/json"
            elif path == "/metrics":
                status, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, kind = 404, b"not found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds: not worth a log line each

    return Handler


def serve_metrics(host: str, port: int, failing: Failing = lambda: []) -> Callable[[], None]:
    """Serve this process's metrics and health over HTTP on a thread; returns what stops
    it. Port 0 serves nothing. A port that cannot be bound is logged and the worker goes
    on: evidence processing never waits for its own metrics."""
    if port == 0:
        return lambda: None
    try:
        server = ThreadingHTTPServer((host, port), _handler(failing))
    except OSError as exc:
        log.error("worker metrics not served", host=host, port=port, error=str(exc))
        return lambda: None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="worker-http", daemon=True)
    thread.start()
    log.info("worker metrics served", host=host, port=port, paths="/metrics /livez /readyz")

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
    pipeline = worker_health(host, alerting, store, settings)
    stop_http = serve_metrics(settings.worker_metrics_host, settings.worker_metrics_port,
                              pipeline.health.failing)  # fmt: skip
    alerting.start()
    pipeline.start(lambda code: host.crashed(RuntimeError(f"pipeline task failed ({code})")))
    try:
        host.run()
    except TopologyMismatch as exc:
        print(topology_message(exc), file=sys.stderr)
        return EXIT_CONFIG
    except Exception:
        log.exception("stream workers failed")
        return EXIT_SOFTWARE
    finally:
        pipeline.stop()
        alerting.stop()
        stop_http()
        store.close()
    return 0


def topology_message(exc: TopologyMismatch) -> str:
    """What an operator reads on stderr: the topics, what is wrong with each, the fix."""
    lines = "\n".join(f"  - {problem}" for problem in str(exc).split("; "))
    return f"fhir-evidence: Kafka topics of the wrong shape; refusing to start:\n{lines}"
