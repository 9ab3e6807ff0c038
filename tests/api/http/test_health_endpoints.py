"""GET /livez and /readyz on the in-process runtime (inline processor, chDB store): no token,
no evidence recorded, not in the CapabilityStatement; /readyz names `evidence_store` while
the store refuses writes and is ready again once it takes them."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime, build_runtime, load_demo_data
from api.boot.stores import open_fhir_data
from api.settings import Settings
from evidence.store import EvidenceStore, StoreUnavailable
from tests.support import TestIssuer

BASE = "http://testserver"


class SwitchableStore:
    """The real store, whose writes fail while `down` is set."""

    def __init__(self, store: EvidenceStore) -> None:
        self.store, self.down = store, False

    def insert_rows(self, rows: Any, dedup_token: str) -> None:
        if self.down:
            raise StoreUnavailable("down for the test")
        self.store.insert_rows(rows, dedup_token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def stack(
    tmp_path: Path, chdb_client: object
) -> Iterator[tuple[TestClient, Runtime, SwitchableStore]]:
    issuer = TestIssuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    settings = Settings(
        data_dir=tmp_path / "data", base_url=BASE, rate_limit_per_s=0,
        trusted_issuers=json.dumps([{"issuer": issuer.issuer, "jwks_file": str(jwks)}]),
    )  # fmt: skip
    data = open_fhir_data(settings)
    load_demo_data(data, 5, 42)
    data.close()
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
    store.apply_schema()
    switch = SwitchableStore(store)
    runtime = build_runtime(settings, demo_data=False, store=switch, inline=True)  # type: ignore[arg-type]
    runtime.on_fatal = lambda code: pytest.fail(f"fatal exit {code}")
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, runtime, switch
    finally:
        store.raw_command(f"DROP DATABASE IF EXISTS {store.database}")


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout
        time.sleep(0.05)
    return time.monotonic() - began


def test_live_and_ready_without_a_token_and_without_evidence(
    stack: tuple[TestClient, Runtime, SwitchableStore],
) -> None:
    client, runtime, _ = stack
    wait_for(lambda: client.get("/readyz").status_code == 200)
    before = runtime.outbox.last_sequence
    live, ready = client.get("/livez"), client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert client.head("/readyz").status_code == 200
    assert "x-request-id" not in ready.headers  # never went through the evidence middleware
    assert runtime.outbox.last_sequence == before  # nothing recorded
    assert sorted(runtime.pipeline.health.names) == ["evidence_store", "fhir_store", "outbox",  # type: ignore[union-attr]
                                                     "workers"]  # fmt: skip
    metadata = client.get("/fhir/metadata").text
    assert "livez" not in metadata and "readyz" not in metadata
    assert client.post("/readyz").status_code != 200  # only GET and HEAD are the probe


def test_ready_names_the_evidence_store_while_it_refuses_writes(
    stack: tuple[TestClient, Runtime, SwitchableStore],
) -> None:
    client, _, store = stack
    wait_for(lambda: client.get("/readyz").status_code == 200)
    store.down = True
    client.get("/fhir/metadata")  # evidence to store: the step finds the store down
    took = wait_for(lambda: client.get("/readyz").status_code == 503)
    body = client.get("/readyz").json()
    assert body == {"status": "unavailable", "failing": ["evidence_store"]}
    store.down = False
    back = wait_for(lambda: client.get("/readyz").status_code == 200)
    print(f"evidence_store failing seen in {took:.2f} s, ready again {back:.2f} s after")


def test_a_closed_outbox_is_named(stack: tuple[TestClient, Runtime, SwitchableStore]) -> None:
    client, runtime, _ = stack
    runtime.outbox.writable = False  # what a failed commit leaves behind
    assert client.get("/readyz").json()["failing"] == ["outbox"]
    runtime.outbox.writable = True
