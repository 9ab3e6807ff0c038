"""RFC 7662 introspection against the real Keycloak: a server that introspects every token
of the realm (introspection "all", the backend client's credentials, the endpoint from
discovery) serves an active token, refuses one revoked at Keycloak's revocation endpoint
within its cache bound and an opaque token Keycloak does not know, each with its reason
code and the token type in the evidence."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.keycloak.conftest import bearer
from tests.keycloak_server import AUDIENCE, BACKEND_CLIENT, Keycloak
from tests.support import ServerProcess, TestIssuer

pytestmark = pytest.mark.keycloak
CACHE_S = 2.0  # FHIR_EVIDENCE_INTROSPECTION_CACHE_S of this server


@pytest.fixture(scope="module")
def introspecting(
    keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    issuer = {
        "issuer": keycloak.issuer, "audience": AUDIENCE, "introspection": "all",
        "introspection_client_id": BACKEND_CLIENT[0],
        "introspection_client_secret": BACKEND_CLIENT[1],
        "idp_product": "keycloak", "idp_version": "26.7.3",
    }  # fmt: skip
    env = {
        "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([issuer]),
        "FHIR_EVIDENCE_INTROSPECTION_CACHE_S": str(CACHE_S),
        "FHIR_EVIDENCE_RATE_LIMIT_PER_S": "0",
    }
    data: Path = tmp_path_factory.mktemp("keycloak-introspecting") / "data"
    server = ServerProcess(data, TestIssuer(), extra_env=env).start()
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        yield client
    server.terminate()


def test_a_token_revoked_in_keycloak_is_refused_within_the_cache_bound(
    keycloak: Keycloak, introspecting: httpx.Client
) -> None:
    auditor = bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))
    token = keycloak.client_credentials_token("system/Patient.rs")
    served = introspecting.get("/fhir/Patient/pat-00001", headers=bearer(token))
    assert served.status_code == 200, served.text
    evidence = evidence_for(introspecting, auditor, served.headers["x-request-id"])
    assert evidence["token"]["type"] == "introspected"
    assert (evidence["token"]["idp_product"], evidence["token"]["idp_version"]) == (
        "keycloak", "26.7.3"
    )  # fmt: skip
    assert evidence["token"]["alg"] == "" and evidence["principal"]["issuer"] == keycloak.issuer

    revoked = keycloak.http.post(
        f"{keycloak.issuer}/protocol/openid-connect/revoke",
        data={"token": token, "token_type_hint": "access_token"}, auth=BACKEND_CLIENT,
    )  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    time.sleep(CACHE_S + 0.5)
    refused = introspecting.get("/fhir/Patient/pat-00001", headers=bearer(token))
    assert_outcome(refused, 401)
    evidence = evidence_for(introspecting, auditor, refused.headers["x-request-id"])
    assert evidence["decision"] == "deny" and "token.inactive" in evidence["reasons"]
    assert evidence["token"]["type"] == "introspected"


def test_an_opaque_token_keycloak_does_not_know_is_inactive(
    keycloak: Keycloak, introspecting: httpx.Client
) -> None:
    auditor = bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))
    refused = introspecting.get("/fhir/Patient/pat-00001", headers=bearer("opaque-0123456789"))
    assert_outcome(refused, 401)
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    evidence = evidence_for(introspecting, auditor, refused.headers["x-request-id"])
    assert "token.inactive" in evidence["reasons"] and evidence["token"]["type"] == "introspected"
