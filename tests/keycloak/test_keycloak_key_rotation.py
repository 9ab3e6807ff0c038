"""Realm key rotation in a real Keycloak while requests flow: a new key added above the old
one (new tokens signed with it at once), then the old key removed from the realm."""

import threading
import time
from dataclasses import dataclass, field

import httpx
import jwt
import pytest

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.keycloak.conftest import bearer, removed_key_bound_s
from tests.keycloak_server import BACKEND_CLIENT, Keycloak
from tests.support import ServerProcess, wait_for

pytestmark = pytest.mark.keycloak
PATIENT = "/fhir/Patient/pat-00001"
SLACK_S = 3.0  # beyond the bound: a refresh in flight, a loaded machine


@dataclass(frozen=True)
class Answer:
    at: float  # monotonic time the request was sent
    kid: str
    status: int


@dataclass
class Load:
    """A thread reading one resource again and again, each time with a fresh token from
    Keycloak (client credentials), recording each answer with its token's kid."""

    keycloak: Keycloak
    fhir_url: str
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "Load":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)
        return list(self.answers)

    def count(self, kid: str, since: float = 0.0) -> int:
        return sum(1 for a in list(self.answers) if a.kid == kid and a.at >= since)

    def _run(self) -> None:
        with httpx.Client(timeout=15) as http:
            while not self._stop.is_set():
                grant = {"grant_type": "client_credentials", "scope": "system/Patient.rs"}
                issued = http.post(self.keycloak.token_endpoint, data=grant, auth=BACKEND_CLIENT)
                token = issued.json()["access_token"]
                sent = time.monotonic()
                answer = http.get(f"{self.fhir_url}{PATIENT}", headers=bearer(token))
                kid = str(jwt.get_unverified_header(token)["kid"])
                self.answers.append(Answer(sent, kid, answer.status_code))


def test_rotating_the_realm_key_under_load_fails_no_request_and_retires_the_removed_key(
    keycloak: Keycloak,
    keycloak_fhir_server: ServerProcess,
    fhir: httpx.Client,
) -> None:
    realm = keycloak.realm
    old_token = keycloak.client_credentials_token("system/Patient.rs")
    assert fhir.get(PATIENT, headers=bearer(old_token)).status_code == 200  # verified, cached
    load = Load(keycloak, keycloak_fhir_server.base_url).start()
    try:
        wait_for(lambda: len(load.answers) >= 3, timeout=60)
        rotation = keycloak.rotate_keys()
        new_kid = rotation.new.kid
        wait_for(lambda: load.count(new_kid) >= 5, timeout=60)
        for key in rotation.old:
            keycloak.admin.remove_key_provider(realm, key.provider_id)
        removed_at = time.monotonic()
        refused = _old_token_answer(fhir, old_token, removed_key_bound_s())
        wait_for(lambda: load.count(new_kid, since=removed_at) >= 5, timeout=60)
    finally:
        answers = load.stop()
    print(f"\nkey rotation: {len(answers)} requests under load, old key refused after "
          f"{refused[1]:.1f}s")  # fmt: skip
    failed = [a for a in answers if a.status != 200 and (a.kid == new_kid or a.at < removed_at)]
    assert not failed, failed  # every new-key token, and every old one before the removal
    assert load.count(new_kid) >= 10 and {a.kid for a in answers} > {new_kid}
    if refused[0] is not None:
        auditor = bearer(keycloak.client_credentials_token("system/AuditEvent.rs"))  # new key
        evidence = evidence_for(fhir, auditor, refused[0].headers["x-request-id"])
        assert evidence["decision"] == "deny"
        assert "token.signature_invalid" in evidence["reasons"], evidence


def _old_token_answer(
    fhir: httpx.Client, token: str, bound_s: float | None
) -> tuple[httpx.Response | None, float]:
    """The 401 for a token of the removed key, within the server's bound, and when it came.
    Without a stated bound (the server keeps a key until a token names an unknown kid) the
    token still verifies: (None, 0)."""
    began = time.monotonic()
    if bound_s is None:
        assert fhir.get(PATIENT, headers=bearer(token)).status_code == 200
        return None, 0.0
    while True:
        response = fhir.get(PATIENT, headers=bearer(token))
        elapsed = time.monotonic() - began
        if response.status_code != 200:
            assert_outcome(response, 401)
            return response, elapsed
        assert elapsed <= bound_s + SLACK_S, f"the removed key still verifies after {elapsed:.1f}s"
        time.sleep(0.25)
