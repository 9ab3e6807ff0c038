"""One real server for the end-to-end tests of this folder, started once per session."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, TestIssuer


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer(publish_ed25519=True)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("e2e")
    proc = ServerProcess(base / "data", issuer).start()
    yield proc
    if proc.process and proc.process.poll() is None:
        proc.terminate()


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def auditor_headers(issuer: TestIssuer, server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token('auditor-1', 'system/AuditEvent.rs')}"}
