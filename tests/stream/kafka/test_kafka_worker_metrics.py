"""`fhir-evidence worker` on the real broker serves /metrics over HTTP: the consumer lag of
every partition it holds rises while events arrive and falls back to 0, the sink counter
and batch histogram count what it stored, and no label holds an identifier."""

import re
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.kafka.app import WorkerConfig
from tests.stream.kafka.kafka_support import (
    Pipeline,
    append,
    log_says,
    new_config,
    open_writer,
    recorded_event,
    start_worker,
    worker_env,
)
from tests.support import free_port, wait_for

pytestmark = pytest.mark.kafka
EVENTS = 20_000
LAG = "fhir_evidence_consumer_lag_messages"
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(url: str) -> Series:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return {}
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("fhir_evidence_")
        for s in family.samples
    }


def _lags(series: Series) -> dict[tuple[str, str], float]:
    return {(dict(k)["topic"], dict(k)["partition"]): v for (n, k), v in series.items() if n == LAG}


def _value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def _check_labels(series: Series, config: WorkerConfig) -> None:
    """Every label a bounded vocabulary: topics, partition numbers, runtimes, stages, codes."""
    topics = {config.names.raw}
    partitions = {str(p) for p in range(config.partitions)}
    allowed = {
        "topic": lambda v: v in topics,
        "partition": lambda v: v in partitions,
        "runtime": lambda v: v in {"kafka", "inline"},
        "stage": lambda v: v in {"kafka", "inline"},
        "source": lambda v: v in {"outbox", "consumer"},
        "task": lambda v: (
            v in {"relay", "workers", "inline-processor", "checkpointer", "webhook-deliverer"}
        ),
        "code": lambda v: re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", v) is not None,
        "outcome": lambda v: v in {"delivered", "failed", "dead"},
        "le": lambda v: re.fullmatch(r"[0-9.e+-]+|\+Inf", v) is not None,
    }
    for name, labels in series:
        for label, value in labels:
            assert label in allowed and allowed[label](value), (name, label, value)


def _no_identifiers(text: str) -> None:
    event = recorded_event(7)
    for identifier in ("dr-alice", "dr-bob", "dr-carol", "svc-etl", "dr-dave", event.client_id,
                       "evt-", "req-", "trace-", "obs-", event.fhir_user):  # fmt: skip
        assert identifier not in text, identifier
    assert not re.search(r"\bp\d+\b", text)  # the recorded events' patient ids


def test_worker_metrics_show_consumer_lag_and_sink_rate(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config, port = new_config(kafka_bootstrap), free_port()
    env = worker_env(
        kafka_bootstrap,
        config,
        tmp_path / "worker",
        FHIR_EVIDENCE_WORKER_METRICS_HOST="127.0.0.1",
        FHIR_EVIDENCE_WORKER_METRICS_PORT=str(port),
        FHIR_EVIDENCE_WORKER_METRICS_INTERVAL_S="0.2",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    writer = open_writer(tmp_path / "outbox.sqlite")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    relay = None
    try:
        wait_for(lambda: log_says(log, "stream workers running"), timeout=90)
        # One worker holds every partition of the raw topic; nothing arrived yet.
        wait_for(lambda: len(_lags(_scrape(url))) == config.partitions, timeout=60)
        before = _scrape(url)
        assert set(_lags(before).values()) == {0}
        assert _value(before, "fhir_evidence_sink_rows_total", runtime="kafka") == 0

        append(writer, range(EVENTS))
        pipeline = Pipeline(config, None, tmp_path / "outbox.sqlite", writer)  # type: ignore[arg-type]
        relay = pipeline.start_relay()
        highest: dict[str, float] = {}

        def drained() -> bool:
            series = _scrape(url)
            for (topic, _), lag in _lags(series).items():
                highest[topic] = max(highest.get(topic, 0), lag)
            stored = _value(series, "fhir_evidence_sink_rows_total", runtime="kafka")
            return stored >= EVENTS and set(_lags(series).values()) == {0}

        wait_for(drained, timeout=180, interval=0.1)
        text = httpx.get(url, timeout=5).text
        after = _scrape(url)
    finally:
        if relay is not None:
            relay.stop()
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        writer.close()

    assert highest.get(config.names.raw, 0) > 0, highest  # the lag gauge moved ...
    assert len(_lags(after)) == config.partitions  # ... and is back to 0 everywhere
    assert _value(after, "fhir_evidence_sink_rows_total", runtime="kafka") >= EVENTS
    batches = _value(after, "fhir_evidence_sink_batch_seconds_count", runtime="kafka")
    assert 0 < batches <= EVENTS
    assert _value(after, "fhir_evidence_sink_batch_seconds_sum", runtime="kafka") > 0
    for (name, labels), stalled in after.items():
        if name == "fhir_evidence_consumer_commit_stalled_seconds":
            assert stalled == 0, labels  # caught up: nothing stalled
    _check_labels(after, config)
    _no_identifiers(text)
