"""One in-process app for the auditor tests: the real app and runtime (inline processor,
detection, chDB evidence store in a database of its own), 30 synthetic patients."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime
from tests.api.inprocess import BASE, demo_runtime
from tests.support import TestIssuer, wait_for

AUDITOR_SCOPE = "system/AuditEvent.rs"


@dataclass
class AuditApp:
    client: TestClient
    runtime: Runtime
    issuer: TestIssuer

    def headers(self, sub: str, scope: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(sub, scope, **claims)}"}

    @property
    def auditor(self) -> dict[str, str]:
        return self.headers("auditor-x", AUDITOR_SCOPE)

    def settle(self) -> None:
        """Every response so far is in the evidence store."""
        assert self.runtime.processor is not None
        assert self.runtime.processor.drain(10.0)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def evidence(self, request_id: str) -> dict[str, Any]:
        self.settle()
        response = self.client.get(f"/audit/requests/{request_id}", headers=self.auditor)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(self, predicate: Any, timeout: float = 10.0) -> Any:
        return wait_for(predicate, timeout=timeout, interval=0.1)


@pytest.fixture(scope="package")
def audit_app(tmp_path_factory: pytest.TempPathFactory, chdb_client: object) -> Iterator[AuditApp]:
    tmp: Path = tmp_path_factory.mktemp("audit-app")
    issuer = TestIssuer(audience=f"{BASE}/fhir")
    with (
        demo_runtime(tmp, chdb_client, issuer) as runtime,
        TestClient(create_app(runtime), raise_server_exceptions=False) as client,
    ):
        yield AuditApp(client, runtime, issuer)
