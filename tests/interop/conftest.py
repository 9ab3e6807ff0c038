"""The client-interop tier: one real `fhir-evidence serve` (SQLite, demo data) for the whole
folder, driven by third-party FHIR clients (HAPI FHIR's generic client in one JVM, fhirpy)
with tokens of this session's test issuer. Every test here is marked `interop`."""

from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.support import ServerProcess, TestIssuer, running_server, unavailable

# The client's scenario writes, searches, reads every type and kicks off an export.
SYSTEM_SCOPES = "system/*.cruds export"
# Patients only: an Observation search is a 403.
NARROW_SCOPES = "system/Patient.rs"


def interop_unavailable(reason: str) -> NoReturn:
    """Under CI a client-interop test must run: fail it. Elsewhere skip it, saying why."""
    unavailable(reason, "client-interop tests")


@pytest.fixture(scope="session")
def interop_issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
def interop_server(
    tmp_path_factory: pytest.TempPathFactory, interop_issuer: TestIssuer
) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("interop") / "data", interop_issuer) as server:
        yield server


@pytest.fixture
def fhir_base_url(interop_server: ServerProcess) -> str:
    return f"{interop_server.base_url}/fhir"


def system_token(issuer: TestIssuer) -> str:
    return issuer.token("interop-system-client", SYSTEM_SCOPES, ttl=900)


def narrow_token(issuer: TestIssuer) -> str:
    return issuer.token("interop-patients-only", NARROW_SCOPES, ttl=900)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/interop/" in item.nodeid:
            item.add_marker(pytest.mark.interop)
