"""The e2e tier's leak tests in gateway mode: one real server (`fhir-evidence serve`) in front
of a real HAPI FHIR JPA server seeded with the demo data (tests.hapi_server), started once
per session. The test modules here reuse the e2e tests as they are, with these fixtures."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hapi_server import HapiUpstream
from tests.support import ServerProcess, TestIssuer, running_server

pytestmark = pytest.mark.hapi


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer(publish_ed25519=True)


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[ServerProcess]:
    upstream: HapiUpstream = request.getfixturevalue("hapi_upstream")
    base: Path = tmp_path_factory.mktemp("gateway")
    env = {  # exports need a directory of their own in gateway mode (docs/operations.md)
        "FHIR_EVIDENCE_UPSTREAM_FHIR_URL": upstream.base_url,
        "FHIR_EVIDENCE_EXPORT_DIR": str(base / "exports"),
    }
    with running_server(base / "data", issuer, env) as proc:
        yield proc


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def auditor_headers(issuer: TestIssuer, server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token('auditor-1', 'system/AuditEvent.rs')}"}
