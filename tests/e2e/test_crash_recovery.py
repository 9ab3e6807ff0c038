"""Durability: no answered request loses its evidence, on SIGKILL or on SIGTERM."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, TestIssuer, wait_for

pytestmark = pytest.mark.slow
DUMP_STORE = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
for table in ("access_events", "access_by_patient"):
    result = client.query(f"SELECT * FROM evidence.{table}")
    for row in result.result_rows:
        print(json.dumps([str(v) for v in row]))
"""


@pytest.fixture
def issuer(request: pytest.FixtureRequest) -> TestIssuer:
    """Own issuer: starting a server points the issuer's audience at that server."""
    return fresh_issuer(request)


def _make_requests(server: ServerProcess, issuer: TestIssuer, count: int) -> list[str]:
    token = issuer.token("load-1", "system/*.rs", sensitivity_clearance=["R", "V"])
    ids = []
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for n in range(count):
            path = f"/fhir/Patient/pat-{(n % 200) + 1:05d}" if n % 3 else "/fhir/Observation"
            response = http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            ids.append(response.headers["x-request-id"])
    return ids


def _all_found(server: ServerProcess, issuer: TestIssuer, request_ids: list[str]) -> bool:
    auditor = {"Authorization": f"Bearer {issuer.token('auditor', 'system/AuditEvent.rs')}"}
    url = f"{server.base_url}/audit/principals/load-1/accesses?_count=1000"
    listing = httpx.get(url, headers=auditor, timeout=10).json()
    found = {a["request_id"] for a in listing["accesses"]}
    return set(request_ids) <= found


def test_kill_9_loses_no_answered_request(tmp_path: Path, issuer: TestIssuer) -> None:
    server = ServerProcess(tmp_path / "data", issuer).start()
    request_ids = _make_requests(server, issuer, 150)
    server.kill()  # SIGKILL right after the last answer: no chance to drain
    restarted = ServerProcess(tmp_path / "data", issuer, port=server.port).start()
    try:
        assert wait_for(lambda: _all_found(restarted, issuer, request_ids), timeout=15)
    finally:
        restarted.terminate()


def test_sigterm_drains_outbox_and_store_holds_no_raw_ids(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, issuer).start()
    request_ids = _make_requests(server, issuer, 60)
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown
    assert server.terminate() in {0, -15}
    with sqlite3.connect(data / "outbox.sqlite") as db:
        (last,) = db.execute("SELECT max(sequence) FROM outbox").fetchone()
        (position,) = db.execute(
            "SELECT sequence FROM positions WHERE name = 'inline-processor'"
        ).fetchone()
    assert position == last  # drained before exit
    dump = subprocess.run(
        [sys.executable, "-c", DUMP_STORE, str(data / "evidence")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rows = [json.loads(line) for line in dump.splitlines()]
    assert len(rows) >= len(request_ids)
    raw_ids = [f"pat-{n:05d}" for n in range(1, 201)]
    leaked = [pid for pid in raw_ids if pid in dump]
    assert leaked == [], f"raw patient ids in the evidence store: {leaked[:5]}"
