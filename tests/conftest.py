"""Shared fixtures. chDB allows one engine path per process, so every in-process test
shares one engine and gets a database of its own."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from evidence.store import EvidenceStore

STORE_BACKENDS = ["chdb"] + (["server"] if os.environ.get("CLICKHOUSE_URL") else [])


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    path: Path = tmp_path_factory.mktemp("chdb-engine")
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    yield client
    client.close()


@pytest.fixture(params=STORE_BACKENDS)
def evidence_store(request: pytest.FixtureRequest) -> Iterator[EvidenceStore]:
    """A fresh evidence database on every backend available (chDB always)."""
    if request.param == "chdb":
        client = request.getfixturevalue("chdb_client")
    else:
        client = clickhouse_connect.get_client(dsn=os.environ["CLICKHOUSE_URL"])
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = EvidenceStore(client, database)  # type: ignore[arg-type]
    store.apply_schema()
    yield store
    store.raw_command(f"DROP DATABASE IF EXISTS {database}")


def pytest_report_header() -> list[str]:
    backends = ", ".join(STORE_BACKENDS)
    note = "" if "server" in STORE_BACKENDS else " (set CLICKHOUSE_URL to add a server)"
    return [f"evidence store backends: {backends}{note}"]
