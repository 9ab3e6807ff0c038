"""One `fhir-evidence serve` trusting only the session's Keycloak realm (no development
issuer, no test issuer), for the tests of this folder."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings, TrustedIssuer
from tests.keycloak_server import AUDIENCE, Keycloak
from tests.support import ServerProcess, TestIssuer, running_server

# A key removed from the realm's JWKS must stop verifying within this (the server's
# FHIR_EVIDENCE_JWKS_REFRESH_S, short here so that the test can wait for it).
JWKS_REFRESH_S = 3.0
TOKEN_LEEWAY_S = 1  # the expired-token test waits lifespan + leeway


def removed_key_bound_s() -> float | None:
    """How long a removed key may still verify, when the server states a bound (None: the
    server keeps a key until a token names an unknown kid)."""
    return JWKS_REFRESH_S if "jwks_refresh_s" in Settings.model_fields else None


def trusted_issuer(keycloak: Keycloak) -> dict[str, str]:
    """The realm as a trusted issuer: by its issuer URL alone where the server discovers the
    rest, else with its jwks_uri."""
    if "discovery" in TrustedIssuer.model_fields:
        return {"issuer": keycloak.issuer, "audience": AUDIENCE}
    return keycloak.trusted_issuer()


@pytest.fixture(scope="session")
def keycloak_fhir_server(
    keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([trusted_issuer(keycloak)]),
        "FHIR_EVIDENCE_TOKEN_LEEWAY_S": str(TOKEN_LEEWAY_S),
        "FHIR_EVIDENCE_JWKS_REFRESH_S": str(JWKS_REFRESH_S),
        "FHIR_EVIDENCE_RATE_LIMIT_PER_S": "0",
    }
    data: Path = tmp_path_factory.mktemp("keycloak-fhir") / "data"
    # TestIssuer only satisfies ServerProcess: the environment above replaces its JWKS.
    with running_server(data, TestIssuer(), env) as server:
        yield server


@pytest.fixture(scope="session")
def fhir(keycloak_fhir_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keycloak_fhir_server.base_url, timeout=15) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auditor(keycloak: Keycloak) -> dict[str, str]:
    """An auditor's headers: a Keycloak client-credentials token with system/AuditEvent.rs."""
    return bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))
