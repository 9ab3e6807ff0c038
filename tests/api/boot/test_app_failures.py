"""Fail closed: when the outbox or a store fails, requests are refused with 503, never
served unaudited, and nothing internal is disclosed. Runs the app in-process."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime, build_runtime
from api.settings import Settings
from evidence.store import EvidenceStore, StoreUnavailable
from tests.support import TestIssuer


class BrokenStore(EvidenceStore):
    """The evidence store of the runtime, failing every read (e.g. ClickHouse is down)."""

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        raise StoreUnavailable("down")


@pytest.fixture
def app_parts(
    tmp_path: Path, evidence_store: EvidenceStore
) -> Iterator[tuple[TestClient, Runtime, TestIssuer]]:
    issuer = TestIssuer(audience="http://testserver/fhir")
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    settings = Settings(
        data_dir=tmp_path / "data",
        base_url="http://testserver",
        trusted_issuers=json.dumps([{"issuer": issuer.issuer, "jwks_file": str(jwks)}]),
    )
    broken = BrokenStore(evidence_store._client, evidence_store._db)
    runtime = build_runtime(settings, demo_data=False, store=broken, inline=False)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client, runtime, issuer


def test_outbox_failure_refuses_with_503(
    app_parts: tuple[TestClient, Runtime, TestIssuer],
) -> None:
    client, runtime, issuer = app_parts
    headers = {"Authorization": f"Bearer {issuer.token('u', 'system/*.rs')}"}
    assert client.get("/fhir/Patient", headers=headers).status_code == 200
    runtime.outbox._conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    response = client.get("/fhir/Patient", headers=headers)
    assert response.status_code == 503
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "entry" not in response.text and response.headers["x-request-id"]


def test_evidence_store_failure_answers_503(
    app_parts: tuple[TestClient, Runtime, TestIssuer],
) -> None:
    client, _runtime, issuer = app_parts
    headers = {"Authorization": f"Bearer {issuer.token('a', 'system/AuditEvent.rs')}"}
    response = client.get("/audit/principals/u/accesses", headers=headers)
    assert response.status_code == 503
    body = response.text
    assert "OperationOutcome" in body and "down" not in body and "chdb" not in body.lower()


def test_no_keys_at_all_answers_503(tmp_path: Path, evidence_store: EvidenceStore) -> None:
    missing = tmp_path / "absent-jwks.json"
    settings = Settings(
        data_dir=tmp_path / "data",
        base_url="http://testserver",
        trusted_issuers=json.dumps([{"issuer": "https://x", "jwks_file": str(missing)}]),
    )
    runtime = build_runtime(settings, demo_data=False, store=evidence_store, inline=False)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        response = client.get("/fhir/Patient", headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 503
