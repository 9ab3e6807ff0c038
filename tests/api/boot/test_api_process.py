"""What an API process of `serve --workers N` reads of the pipeline process (api.boot.
api_process): its health file (missing, stale, malformed or saying a check fails: not ready,
by the check it concerns) and its metrics file (shown only while fresh), as the pipeline
process writes them (api.boot.pipeline_process)."""

import json
import os
import time
from pathlib import Path

import pytest

from api.boot.api_process import PipelineMetrics, PipelineReport, local_store
from api.boot.pipeline_process import write_health, write_metrics
from stream.health import Health, readiness


def _report(path: Path) -> tuple[PipelineReport, Health]:
    report, health = PipelineReport(path, max_age_s=5.0), Health()
    health.add("workers", report.probe)
    health.add("evidence_store", report.store_ok)
    return report, health


def _ready(report: PipelineReport, health: Health) -> list[str]:
    report.probe.refresh()  # the watchdog's beat
    return health.failing()


def test_a_fresh_report_with_nothing_failing_is_ready(tmp_path: Path) -> None:
    path = tmp_path / "pipeline-health.json"
    write_health(path, [])
    assert _ready(*_report(path)) == []
    assert readiness([]) == (200, {"status": "ok"})


def test_a_missing_report_is_not_ready(tmp_path: Path) -> None:
    assert _ready(*_report(tmp_path / "pipeline-health.json")) == ["workers", "evidence_store"]


def test_a_stale_report_is_not_ready(tmp_path: Path) -> None:
    """The pipeline process stopped writing (killed, stuck): 5 s after its last beat."""
    path = tmp_path / "pipeline-health.json"
    path.write_text(json.dumps({"at": time.time() - 6.0, "pid": 1, "failing": []}))
    report, health = _report(path)
    assert _ready(report, health) == ["workers", "evidence_store"]
    write_health(path, [])  # it is back
    assert _ready(report, health) == []


@pytest.mark.parametrize("text", ["", "{", "[]", '{"at": "soon", "failing": []}',
                                  '{"failing": []}', '{"at": 1e18}'])  # fmt: skip
def test_a_malformed_report_is_not_ready(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pipeline-health.json"
    path.write_text(text)
    assert _ready(*_report(path)) == ["workers", "evidence_store"]


@pytest.mark.parametrize(("failing", "expected"), [
    (["workers"], ["workers"]),
    (["evidence_store"], ["evidence_store"]),
    (["fhir_store"], []),  # the pipeline's own FHIR store probe: this process checks its own
])  # fmt: skip
def test_the_pipeline_failing_a_check_fails_the_check_it_concerns(
    tmp_path: Path, failing: list[str], expected: list[str]
) -> None:
    path = tmp_path / "pipeline-health.json"
    write_health(path, failing)
    assert _ready(*_report(path)) == expected


def test_metrics_are_shown_while_fresh_only(tmp_path: Path) -> None:
    path = tmp_path / "pipeline-metrics.prom"
    peers = PipelineMetrics(path, max_age_s=5.0)
    assert peers() == []  # missing
    write_metrics(path)
    ((process, text),) = peers()
    assert process == "pipeline" and "# TYPE " in text
    old = time.time() - 6.0
    os.utime(path, (old, old))
    assert peers() == []  # stale: the pipeline is not answering


def test_written_files_are_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "pipeline-health.json"
    write_health(path, ["workers"])
    write_health(path, [])
    assert json.loads(path.read_text())["failing"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline-health.json"]


def test_with_kafka_and_no_server_each_api_process_keeps_a_store_of_its_own() -> None:
    assert local_store(0) == "evidence"  # the single process's
    assert len({local_store(n) for n in range(8)}) == 8
