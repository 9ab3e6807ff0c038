"""A real Keycloak for tests: started by scripts/keycloak.sh (the Maven Central distribution,
dev mode, our realm deploy/keycloak/fhir-evidence-realm.json imported), and the session
fixture `keycloak`: its URLs and scripted OAuth flows (client credentials, Authorization
Code + PKCE S256 through the real login form) plus admin REST helpers (tests/keycloak_admin.py).

Started once per session, on the first test that asks for it (15-55 s on two cores, up to two
minutes on a loaded machine). Without CI=true a Keycloak that cannot start skips the test with
the reason; under CI=true it fails it."""

import base64
import hashlib
import html
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bench.server_scripts import ServerScriptError, run_script
from tests.kafka_broker import in_ci
from tests.keycloak_admin import KeycloakAdmin, KeyRotation
from tests.support import unavailable

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "keycloak.sh"
REALM_FILE = Path(__file__).resolve().parent.parent / "deploy/keycloak/fhir-evidence-realm.json"
REALM = "fhir-evidence"
# KEYCLOAK_STATE_DIR=DIR: start (or find running) the Keycloak of DIR and leave it running,
# e.g. to iterate on the tests without a start each time (the realm keeps earlier changes).
STATE_VARIABLE = "KEYCLOAK_STATE_DIR"
# What the realm file sets up (deploy/keycloak/fhir-evidence-realm.json).
AUDIENCE = "fhir-evidence"  # the audience mapper's `aud`: the server's trusted-issuer audience
BACKEND_CLIENT = ("fhir-evidence-backend", "fhir-evidence-backend-secret-change-me")
# The resource server's own client (no flows), named by the audience: Keycloak 26.7.3
# answers introspection with active only to a client in the token's aud (else inactive).
INTROSPECTION_CLIENT = (AUDIENCE, "fhir-evidence-introspection-secret-change-me")
APP_CLIENT = "fhir-evidence-app"  # public, authorization code + PKCE S256
APP_REDIRECT_URI = "http://127.0.0.1:8765/callback"  # never served: the code is taken from it
PATIENT_USER = ("pat-00010", "demo-patient-change-me")  # patient=pat-00010
PRACTITIONER_USER = ("dr-prac-0001", "demo-practitioner-change-me")  # Practitioner/prac-0001
_LOGIN_FORM = re.compile(r'<form[^>]*\bid="kc-form-login"[^>]*\baction="([^"]+)"', re.S)


class KeycloakError(ServerScriptError):
    """scripts/keycloak.sh could not fetch, start or stop Keycloak, or a flow failed."""


class KeycloakServer:
    """One Keycloak with its state (home, H2 data, logs, port, admin password) in `state_dir`."""

    def __init__(self, state_dir: Path, start_timeout: float = 300.0) -> None:
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.started_in: float | None = None

    def _run(self, command: str, timeout: float) -> str:
        return run_script(
            SCRIPT, command, self.state_dir, timeout, "KEYCLOAK_WATCH_PID", KeycloakError
        )

    def start(self) -> str:
        began = time.monotonic()
        self._run("start", self.start_timeout + 120)  # + a first fetch
        self.started_in = time.monotonic() - began
        return self.base_url

    def stop(self) -> None:
        self._run("stop", 60)

    @property
    def base_url(self) -> str:
        return (self.state_dir / "base_url").read_text().strip()

    @property
    def admin_password(self) -> str:
        return (self.state_dir / "admin-password").read_text().strip()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _token_of(response: httpx.Response, what: str) -> str:
    if response.status_code != 200:  # the error body names the OAuth error, never a secret
        raise KeycloakError(f"{what}: {response.status_code} {response.text[:300]}")
    return str(response.json()["access_token"])


@dataclass
class Keycloak:
    """A running Keycloak and the realm our server trusts."""

    base_url: str
    admin_password: str
    realm: str = REALM
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    admin: KeycloakAdmin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = KeycloakAdmin(self.base_url, self.admin_password, self.http)

    def issuer_of(self, realm: str) -> str:
        return f"{self.base_url}/realms/{realm}"

    @property
    def issuer(self) -> str:
        return self.issuer_of(self.realm)

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth"

    def admin_token(self) -> str:
        """A master-realm token of the bootstrap admin (for Keycloak's admin REST API)."""
        return self.admin.admin_token()

    def rotate_keys(self) -> KeyRotation:
        """A new RS256 key above the realm's others (remove the old ones with
        `admin.remove_key_provider(realm, key.provider_id)` for each of `.old`)."""
        return self.admin.rotate_keys(self.realm)

    def trusted_issuer(self) -> dict[str, str]:
        """The server's FHIR_EVIDENCE_TRUSTED_ISSUERS entry for this realm."""
        return {"issuer": self.issuer, "audience": AUDIENCE, "jwks_uri": self.jwks_uri}

    def client_credentials_token(
        self, scope: str, client: tuple[str, str] = BACKEND_CLIENT, realm: str | None = None
    ) -> str:
        """An access token for a confidential client (client_credentials grant)."""
        response = self.http.post(
            f"{self.issuer_of(realm or self.realm)}/protocol/openid-connect/token",
            data={"grant_type": "client_credentials", **({"scope": scope} if scope else {})},
            auth=client,
        )
        return _token_of(response, f"client credentials token for {client[0]}")

    def pkce_login(self, username: str, password: str, scope: str) -> str:
        """A scripted Authorization Code + PKCE (S256) login of a user through Keycloak's own
        login form with the public app client; the access token the code is exchanged for."""
        verifier = secrets.token_urlsafe(64)
        challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        state = secrets.token_urlsafe(16)
        with httpx.Client(timeout=30, follow_redirects=True) as browser:  # its own cookies
            page = browser.get(
                self.authorization_endpoint,
                params={
                    "client_id": APP_CLIENT, "response_type": "code", "scope": scope,
                    "redirect_uri": APP_REDIRECT_URI, "state": state,
                    "code_challenge": challenge, "code_challenge_method": "S256",
                },
            )  # fmt: skip
            form = _LOGIN_FORM.search(page.text)
            if page.status_code != 200 or form is None:
                raise KeycloakError(f"no login form ({page.status_code}) for {username}")
            # Keycloak marks its cookies Secure; a browser sends them to a loopback http origin
            # (a secure context), httpx's cookie jar does not: sent here by hand.
            cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
            answer = browser.post(
                html.unescape(form.group(1)),
                data={"username": username, "password": password, "credentialId": ""},
                headers={"Cookie": cookies},
                follow_redirects=False,
            )
        code = _code_from_redirect(answer, state)
        response = self.http.post(
            self.token_endpoint,
            data={
                "grant_type": "authorization_code", "code": code, "client_id": APP_CLIENT,
                "redirect_uri": APP_REDIRECT_URI, "code_verifier": verifier,
            },
        )  # fmt: skip
        return _token_of(response, f"code exchange for {username}")


def _code_from_redirect(answer: httpx.Response, state: str) -> str:
    """The code in the login's redirect to the app (which is not served: never followed)."""
    location = answer.headers.get("location", "")
    if answer.status_code != 302 or not location.startswith(APP_REDIRECT_URI):
        raise KeycloakError(f"login did not redirect to the app ({answer.status_code})")
    query = parse_qs(urlsplit(location).query)
    if query.get("state") != [state] or "code" not in query:
        raise KeycloakError(f"login redirect without code or with another state: {sorted(query)}")
    return str(query["code"][0])


def _keycloak_unavailable(reason: str) -> NoReturn:
    unavailable(reason, "Keycloak tests")


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keycloak]:
    """One Keycloak for the session, with our realm imported."""
    reused = os.environ.get(STATE_VARIABLE)  # a state dir kept across runs: not stopped
    server = KeycloakServer(Path(reused) if reused else tmp_path_factory.mktemp("keycloak"))
    error = None
    try:
        server.start()
    except KeycloakError as exc:
        error = exc
    if error is not None:  # outside the except: no "during handling" chain in the report
        reason = f"no Keycloak from the Maven Central zip ({error.summary})"
        _keycloak_unavailable(f"{reason}\n{error.details}" if in_ci() else reason)
    print(f"\nkeycloak: {server.base_url} started in {server.started_in:.1f}s")
    client = Keycloak(server.base_url, server.admin_password)
    yield client
    client.http.close()
    if not reused:
        server.stop()


__all__ = ["Keycloak", "KeycloakError", "KeycloakServer", "keycloak"]
