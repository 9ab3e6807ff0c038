"""Discovery against the real Keycloak: the server trusts the realm by its issuer URL alone,
advertises the endpoints Keycloak's discovery document gives in its SMART configuration,
records the token model in evidence, and refuses to start (exit 78, a configuration error)
when a trusted issuer cannot be discovered."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import evidence_for
from tests.keycloak.conftest import bearer
from tests.keycloak_server import Keycloak

pytestmark = pytest.mark.keycloak


def test_the_smart_configuration_advertises_what_keycloak_discovery_gives(
    keycloak: Keycloak, fhir: httpx.Client, auditor: dict[str, str]
) -> None:
    config = fhir.get("/fhir/.well-known/smart-configuration").json()
    oidc = keycloak.http.get(f"{keycloak.issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == keycloak.issuer and config["jwks_uri"] == keycloak.jwks_uri
    for member in ("token_endpoint", "authorization_endpoint", "introspection_endpoint",
                   "revocation_endpoint"):  # fmt: skip
        assert config[member] == oidc[member], member
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "launch-standalone" in config["capabilities"]

    system_token = keycloak.client_credentials_token("system/Patient.rs")
    read = fhir.get("/fhir/Patient/pat-00001", headers=bearer(system_token))
    assert read.status_code == 200
    token = evidence_for(fhir, auditor, read.headers["x-request-id"])["token"]
    assert token["type"] == "jwt"
    assert token["idp_product"] is None and token["idp_version"] is None  # not configured


def test_an_issuer_that_cannot_be_discovered_stops_the_start_with_78(
    keycloak: Keycloak, tmp_path: Path
) -> None:
    missing = {"issuer": keycloak.issuer_of("no-such-realm")}
    env = {**os.environ, "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([missing]),
           "FHIR_EVIDENCE_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    started = subprocess.run(
        [sys.executable, "-m", "api.boot.cli", "serve", "--port", "0", "--no-demo-data"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 78, started.stderr[-2000:]
    assert "discovery of" in started.stderr and "no-such-realm" in started.stderr
    assert "Traceback" not in started.stderr
