"""One real server for the end-to-end tests of this folder, started once per session and FHIR
store (SQLite, then PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.keycloak_issuer import (  # noqa: F401  (keycloak_realm, keycloak_issuer: fixtures)
    keycloak_issuer,
    keycloak_mode,
    keycloak_realm,
    keycloak_server_env,
    keycloak_terminal_summary,
)
from tests.postgres_server import fresh_database
from tests.support import ServerProcess, TestIssuer, running_server


@pytest.fixture(scope="session")
def issuer(request: pytest.FixtureRequest) -> TestIssuer:
    """Our test issuer; with FHIR_EVIDENCE_TEST_ISSUER=keycloak, tokens from a real Keycloak
    (tests/keycloak_issuer.py) and a server that trusts only its realm."""
    if keycloak_mode():
        return request.getfixturevalue("keycloak_issuer")  # type: ignore[no-any-return]
    return TestIssuer(publish_ed25519=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    keycloak_terminal_summary(terminalreporter)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def fhir_store_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The FHIR data of the e2e server: SQLite in its data dir, then a PostgreSQL database
    of its own (the whole tier runs once on each)."""
    if request.param == "sqlite":
        yield {}
        return
    with fresh_database(request.getfixturevalue("postgres_server_dsn")) as dsn:
        exports = tmp_path_factory.mktemp("exports")  # shared by replicas, were there several
        yield {"FHIR_EVIDENCE_FHIR_STORE_URL": dsn, "FHIR_EVIDENCE_EXPORT_DIR": str(exports)}


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer, fhir_store_env: dict[str, str]
) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("e2e")
    env = {**fhir_store_env, **keycloak_server_env(issuer)}
    with running_server(base / "data", issuer, env) as proc:
        yield proc


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def auditor_headers(issuer: TestIssuer, server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token('auditor-1', 'system/AuditEvent.rs')}"}
