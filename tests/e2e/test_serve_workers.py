"""`serve --workers 2` (api.boot.processes): two API processes on one port, each with its own
outbox, and one pipeline process holding the evidence store; children killed are restarted,
SIGTERM drains every outbox. One server for the whole story (each start costs seconds)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, serve_children, wait_for

pytestmark = pytest.mark.slow
COUNT_EVENTS = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
rows = client.query("SELECT request_id, producer_id, count() FROM evidence.access_events FINAL "
                    "GROUP BY request_id, producer_id").result_rows
print(json.dumps([[str(r), str(p), int(n)] for r, p, n in rows]))
"""


def _reads(server: ServerProcess, token: str, count: int) -> list[str]:
    """`count` reads, each on a new connection (the kernel picks the process each time)."""
    ids = []
    for n in range(count):
        url = f"{server.base_url}/fhir/Patient/pat-{n % 200 + 1:05d}"
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-request-id"])
    return ids


def _ready(server: ServerProcess) -> bool:
    try:
        return httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _found(server: ServerProcess, auditor: str, request_ids: list[str]) -> bool:
    url = f"{server.base_url}/audit/principals/reader-1/accesses?_count=1000"
    answer = httpx.get(url, headers={"Authorization": f"Bearer {auditor}"}, timeout=10)
    return answer.status_code == 200 and set(request_ids) <= {
        a["request_id"] for a in answer.json()["accesses"]
    }


def _metric_values(server: ServerProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics of whichever API process answers: {(sample, labels): value}."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip


def _pipeline_metrics_shown(server: ServerProcess, stored: int) -> bool:
    """The pipeline process's metrics in an API process's /metrics, labelled `pipeline`
    (evidence rows it stored, its fan-in's lag), beside the answering process's own."""
    values = _metric_values(server)
    rows = values.get(("fhir_evidence_sink_rows_total",
                       frozenset({("process", "pipeline"), ("runtime", "inline")})), 0)  # fmt: skip
    lag = ("fhir_evidence_pipeline_lag_events", frozenset({("process", "pipeline")}))
    own = {dict(labels).get("process") for name, labels in values
           if name == "fhir_evidence_requests_total"}  # fmt: skip
    return rows >= stored and lag in values and bool(own) and own <= {"api-0", "api-1"}


def test_two_api_processes_restart_and_drain(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    issuer, data = fresh_issuer(request), tmp_path / "data"
    server = ServerProcess(data, issuer, extra_env={"FHIR_EVIDENCE_WORKERS": "2"}).start()
    assert server.process is not None
    try:
        token = issuer.token("reader-1", "system/*.rs", sensitivity_clearance=["R", "V"])
        auditor = issuer.token("auditor-1", "system/AuditEvent.rs")
        wait_for(lambda: _ready(server), timeout=20)
        children = serve_children(server.process.pid)
        assert sorted(children.values()) == ["api", "api", "pipeline"]
        ids = _reads(server, token, 40)
        # the auditor API of an API process reads the pipeline's store through the bridge
        assert wait_for(lambda: _found(server, auditor, ids), timeout=10)
        for _ in range(4):  # whichever process answers shows the pipeline's metrics too
            assert wait_for(lambda: _pipeline_metrics_shown(server, len(ids)), timeout=5)

        victim = next(pid for pid, kind in children.items() if kind == "api")
        os.kill(victim, signal.SIGKILL)
        ids += _reads(server, token, 20)  # the other process answers meanwhile
        wait_for(lambda: len(serve_children(server.process.pid)) == 3, timeout=15)
        assert victim not in serve_children(server.process.pid)

        pipeline = next(pid for pid, kind in children.items() if kind == "pipeline")
        os.kill(pipeline, signal.SIGKILL)
        ids += _reads(server, token, 20)  # answered: the evidence waits in the outboxes
        wait_for(lambda: _ready(server), timeout=30)  # the pipeline is back
        ids += _reads(server, token, 20)
        assert server.terminate(timeout=90) == 0
    finally:
        if server.process.poll() is None:
            server.kill()
    _assert_drained(data)
    counted = json.loads(subprocess.run(
        [sys.executable, "-c", COUNT_EVENTS, str(data / "evidence")],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    by_request = {request: (producer, n) for request, producer, n in counted}
    assert all(by_request[i][1] == 1 for i in ids)  # every answered read, exactly once
    assert len({by_request[i][0] for i in ids}) == 2  # served by both API processes
    assert "process ended; restarting" in server.log_text()


def _assert_drained(data: Path) -> None:
    outboxes = sorted(data.glob("outbox*.sqlite"))
    assert [p.name for p in outboxes] == ["outbox-1.sqlite", "outbox-pipeline.sqlite",
                                          "outbox.sqlite"]  # fmt: skip
    for path in outboxes:
        with sqlite3.connect(path) as db:
            last = db.execute("SELECT max(sequence) FROM outbox").fetchone()[0] or 0
            row = db.execute("SELECT sequence FROM positions WHERE name = 'inline-processor'")
            assert (row.fetchone() or (0,))[0] == last, path.name
