"""Several processes' Prometheus text as one answer (api.http.metrics_text, api.http.metrics):
each sample labelled with its process, a family reported by several appears once with every
process's samples (never summed, never one taken for another), and the result parses."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.http import metrics
from api.http.metrics_text import PROCESS_LABEL, merged_families, merged_text


def _process_text(rows: float, lag: float, latency: float | None = None) -> str:
    """One process's registry of the kinds /metrics holds: a labelled counter, an unlabelled
    gauge, a histogram (only when observed), a labelled counter without children."""
    registry = CollectorRegistry()
    sink = Counter("fx_sink_rows", "rows", ["runtime"], registry=registry)
    if rows:
        sink.labels(runtime="inline").inc(rows)
    Gauge("fx_lag_events", "lag", registry=registry).set(lag)
    seconds = Histogram("fx_batch_seconds", "s", ["runtime"], buckets=(0.1, 1.0),
                        registry=registry)  # fmt: skip
    if latency is not None:
        seconds.labels(runtime="inline").observe(latency)
    Counter("fx_dead_letters", "dead", ["code"], registry=registry)
    return generate_latest(registry).decode()


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    parsed = text_string_to_metric_families(text.decode())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parsed for s in f.samples}


def test_each_process_keeps_its_own_series() -> None:
    api, pipeline = _process_text(0, 0), _process_text(7, 3, latency=0.5)
    samples = _samples(merged_text([("api-0", api), ("pipeline", pipeline)]))
    assert samples[("fx_sink_rows_total", (("process", "pipeline"), ("runtime", "inline")))] == 7
    assert samples[("fx_lag_events", (("process", "api-0"),))] == 0
    assert samples[("fx_lag_events", (("process", "pipeline"),))] == 3
    bucket = ("fx_batch_seconds_bucket", (("le", "1.0"), ("process", "pipeline"),
                                          ("runtime", "inline")))  # fmt: skip
    assert samples[bucket] == 1
    assert all(dict(labels)[PROCESS_LABEL] in ("api-0", "pipeline") for _, labels in samples)


def test_a_family_of_several_processes_appears_once() -> None:
    parts = [("api-0", _process_text(1, 1)), ("api-1", _process_text(2, 2)),
             ("pipeline", _process_text(5, 0))]  # fmt: skip
    text = merged_text(parts).decode()
    for name in ("fx_sink_rows_total", "fx_lag_events", "fx_batch_seconds",
                 "fx_dead_letters_total"):  # fmt: skip
        assert text.count(f"# TYPE {name} ") == 1, name
    rows = {labels: value for (name, labels), value in _samples(text.encode()).items()
            if name == "fx_sink_rows_total"}  # fmt: skip
    assert sorted(rows.values()) == [1, 2, 5]  # three series, none summed into another


def test_a_family_only_one_process_reports_is_kept() -> None:
    api, pipeline = "# TYPE only_api gauge\nonly_api 1\n", "# TYPE p_total counter\np_total 2\n"
    families = merged_families([("api-0", api), ("pipeline", pipeline)])
    assert [f.name for f in families] == ["only_api", "p"]
    assert families[1].samples[0].labels == {PROCESS_LABEL: "pipeline"}


def test_a_family_of_another_type_under_a_known_name_is_left_out() -> None:
    families = merged_families([("api-0", "# TYPE x gauge\nx 1\n"),
                                ("pipeline", "# TYPE x_total counter\nx_total 2\n")])  # fmt: skip
    (family,) = families
    assert family.type == "gauge" and [s.value for s in family.samples] == [1]


def test_one_process_alone_answers_as_before_and_bound_labels_it() -> None:
    assert metrics.exposition().count(b'process="') == 0  # unbound: no label added
    metrics.bind_process("api-1", lambda: [("pipeline", _process_text(4, 2))])
    try:
        text = metrics.exposition()
    finally:
        metrics._process.clear()
    samples = _samples(text)
    assert samples[("fx_sink_rows_total", (("process", "pipeline"), ("runtime", "inline")))] == 4
    assert any(dict(labels).get(PROCESS_LABEL) == "api-1" and name.startswith("fhir_evidence_")
               for name, labels in samples)  # fmt: skip
