"""RFC 7662 introspection against the real Keycloak: a server that introspects every token
of the realm (introspection "all", the endpoint from discovery) with the realm's client named
by the audience (Keycloak 26.7.3 answers `active: true` only to a client in the token's
`aud`: the backend client that asked for the token is told `active: false`) serves active
tokens, and refuses a client-credentials token revoked at Keycloak's revocation endpoint, a
user's token whose session an administrator ended, and an opaque string Keycloak does not
know, each 401 `token.inactive` with the token type in the evidence, within its cache bound.

An introspection endpoint that is down or answers garbage (503 `introspection.failed`) is
covered against a stub (tests/api/access/test_identity_provider.py), not here."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.keycloak.conftest import bearer
from tests.keycloak_server import (
    AUDIENCE,
    BACKEND_CLIENT,
    INTROSPECTION_CLIENT,
    PATIENT_USER,
    Keycloak,
)
from tests.support import ServerProcess, TestIssuer

pytestmark = pytest.mark.keycloak
CACHE_S = 2.0  # FHIR_EVIDENCE_INTROSPECTION_CACHE_S of this server


@pytest.fixture(scope="module")
def introspecting(
    keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    issuer = {
        "issuer": keycloak.issuer, "audience": AUDIENCE, "introspection": "all",
        "introspection_client_id": INTROSPECTION_CLIENT[0],
        "introspection_client_secret": INTROSPECTION_CLIENT[1],
        "idp_product": "keycloak", "idp_version": "26.7.3",
    }  # fmt: skip
    env = {
        "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([issuer]),
        "FHIR_EVIDENCE_INTROSPECTION_CACHE_S": str(CACHE_S),
        "FHIR_EVIDENCE_RATE_LIMIT_PER_S": "0",
    }
    data: Path = tmp_path_factory.mktemp("keycloak-introspecting") / "data"
    # TestIssuer only satisfies ServerProcess: the environment above replaces its JWKS.
    server = ServerProcess(data, TestIssuer(), extra_env=env).start()
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        yield client
    server.terminate()


def _keycloak_answer(keycloak: Keycloak, token: str, client: tuple[str, str]) -> Any:
    """Keycloak's own introspection answer for `token`, asked by `client`."""
    answer = keycloak.http.post(
        f"{keycloak.issuer}/protocol/openid-connect/token/introspect",
        data={"token": token, "token_type_hint": "access_token"}, auth=client,
    )  # fmt: skip
    assert answer.status_code == 200, answer.status_code
    return answer.json()


def _refused_as_inactive(
    introspecting: httpx.Client, auditor: dict[str, str], token: str, path: str
) -> None:
    refused = introspecting.get(path, headers=bearer(token))
    assert_outcome(refused, 401)
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    evidence = evidence_for(introspecting, auditor, refused.headers["x-request-id"])
    assert evidence["decision"] == "deny" and "token.inactive" in evidence["reasons"]
    assert evidence["token"]["type"] == "introspected"


def test_a_token_revoked_in_keycloak_is_refused_within_the_cache_bound(
    keycloak: Keycloak, introspecting: httpx.Client
) -> None:
    auditor = bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))
    token = keycloak.client_credentials_token("system/Patient.rs")
    # What Keycloak 26.7.3 answers, and to whom: the audience's client only.
    answer = _keycloak_answer(keycloak, token, INTROSPECTION_CLIENT)
    assert answer["active"] is True and answer["aud"] == AUDIENCE
    assert (answer["iss"], answer["token_type"]) == (keycloak.issuer, "Bearer")
    assert _keycloak_answer(keycloak, token, BACKEND_CLIENT) == {"active": False}

    served = introspecting.get("/fhir/Patient/pat-00001", headers=bearer(token))
    assert served.status_code == 200, served.text
    evidence = evidence_for(introspecting, auditor, served.headers["x-request-id"])
    assert evidence["token"]["type"] == "introspected" and evidence["token"]["alg"] == ""
    assert (evidence["token"]["idp_product"], evidence["token"]["idp_version"]) == (
        "keycloak", "26.7.3"
    )  # fmt: skip
    assert evidence["principal"]["issuer"] == keycloak.issuer
    assert evidence["principal"]["client_id"] == BACKEND_CLIENT[0]

    revoked = keycloak.http.post(
        f"{keycloak.issuer}/protocol/openid-connect/revoke",
        data={"token": token, "token_type_hint": "access_token"}, auth=BACKEND_CLIENT,
    )  # fmt: skip
    assert revoked.status_code == 200, revoked.status_code
    time.sleep(CACHE_S + 0.5)
    _refused_as_inactive(introspecting, auditor, token, "/fhir/Patient/pat-00001")


def test_a_user_logged_out_by_an_administrator_and_an_unknown_opaque_token_are_inactive(
    keycloak: Keycloak, introspecting: httpx.Client
) -> None:
    auditor = bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))
    username = PATIENT_USER[0]  # its `patient` attribute is its username
    token = keycloak.pkce_login(*PATIENT_USER, "openid launch/patient patient/*.rs")
    own = f"/fhir/Patient/{username}"
    assert introspecting.get(own, headers=bearer(token)).status_code == 200
    # The `patient` claim comes from the introspection answer: another patient is outside.
    other = introspecting.get("/fhir/Patient/pat-00011", headers=bearer(token))
    assert_outcome(other, 404)
    evidence = evidence_for(introspecting, auditor, other.headers["x-request-id"])
    assert "compartment.outside" in evidence["reasons"]
    assert evidence["token"]["type"] == "introspected"

    users = keycloak.admin.call(
        "GET", f"/{keycloak.realm}/users", params={"username": username, "exact": "true"}
    ).json()
    keycloak.admin.call("POST", f"/{keycloak.realm}/users/{users[0]['id']}/logout", expect=204)
    time.sleep(CACHE_S + 0.5)
    _refused_as_inactive(introspecting, auditor, token, own)

    opaque = "opaque-0123456789"  # b64token-shaped, so it is sent to Keycloak
    assert _keycloak_answer(keycloak, opaque, INTROSPECTION_CLIENT) == {"active": False}
    _refused_as_inactive(introspecting, auditor, opaque, own)
