"""`fhir-evidence worker` serves its metrics on FHIR_EVIDENCE_WORKER_METRICS_HOST:_PORT
(api/boot/worker.py): off at port 0, and a port it cannot bind never stops the worker."""

import socket

import httpx
import pytest

from api.boot.worker import serve_metrics
from api.settings import Settings
from tests.support import free_port


def test_settings_default_to_loopback_9464_and_zero_turns_it_off() -> None:
    settings = Settings()
    assert (settings.worker_metrics_host, settings.worker_metrics_port) == ("127.0.0.1", 9464)
    assert settings.worker_metrics_interval_s == 5.0
    assert Settings(worker_metrics_port=0).worker_metrics_port == 0


def test_serves_the_process_registry_and_stops() -> None:
    port = free_port()
    stop = serve_metrics("127.0.0.1", port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        stop()
    assert response.status_code == 200
    exported = (
        "fhir_evidence_sink_rows_total",
        "fhir_evidence_sink_batch_seconds",
        "fhir_evidence_dead_letters_total",
        "fhir_evidence_consumer_lag_messages",
        "fhir_evidence_consumer_commit_stalled_seconds",
    )
    for name in exported:
        assert f"# TYPE {name} " in response.text, name
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens any more
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_port_zero_serves_nothing_and_a_taken_port_is_not_fatal() -> None:
    serve_metrics("127.0.0.1", 0)()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stop = serve_metrics("127.0.0.1", taken.getsockname()[1])
        stop()
