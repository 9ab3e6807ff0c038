"""Tokens really issued and signed by Keycloak, behind the test issuer's interface.

`FHIR_EVIDENCE_TEST_ISSUER=keycloak` runs the e2e tier with a KeycloakIssuer in place of the
TestIssuer: `token(sub, scope, ttl, alg, **claims)` asks Keycloak for a client-credentials
token whose claims are exactly those asked for. Keycloak cannot be told a token's claims per
request, so each distinct shape (sub, scopes, claims, audience, lifespan, alg) gets a
confidential client of its own, made once through the admin REST API and cached:

- `sub` and the other claims (`fhirUser`, `patient`, `purpose_of_use`,
  `sensitivity_clearance`, ...): hardcoded-claim mappers. The client has no `basic` scope, so
  Keycloak's own sub mapper does not run and the mapper's `sub` is the token's only one.
- `scope`: Keycloak's own, from client scopes named after each SMART scope (made on first use,
  `include.in.token.scope`) that are the client's default scopes.
- `aud`: an audience mapper (the server's `<base>/fhir`, set by ServerProcess.start, or `aud=`).
- `client_id`: Keycloak's own (its service-account scope): the OAuth client really used,
  `<client_id>-<shape hash>` (`client_id=` names the prefix, default `test-client`).
- `ttl`: the client's access token lifespan; `ttl <= 0` (an expired token) takes a 1 s token and
  waits until it is expired beyond the server's leeway (`leeway_s`).
- `alg`: the client's access token signature algorithm, from a key provider of the realm made
  on first use (ES256 P-256, EdDSA Ed25519, PS256 RSA).

What only a key holder can make (hand-written claims, forged or malformed tokens, `iss`, `iat`,
`exp`, `nbf` or `jti` set by the test) skips the test under this issuer, with the reason."""

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.keycloak_admin import KEY_PROVIDER_TYPE, KeycloakAdminError, _mapper
from tests.keycloak_server import Keycloak
from tests.support import TestIssuer

MODE_VARIABLE = "FHIR_EVIDENCE_TEST_ISSUER"
OWN_SIGNING = (
    "needs a token made with the test's own keys (hand-written claims, forged or malformed); "
    "under FHIR_EVIDENCE_TEST_ISSUER=keycloak only Keycloak signs"
)
DEFAULT_CLIENT_ID = "test-client"
_FIXED_BY_KEYCLOAK = ("iss", "iat", "exp", "nbf", "jti", "scope", "sub")
# Key providers Keycloak 26.7.3 ships, for the algorithms beside the realm's RS256 key.
_KEY_PROVIDERS = {
    "ES256": ("ecdsa-generated", {"ecdsaEllipticCurveKey": ["P-256"]}),
    "EdDSA": ("eddsa-generated", {"eddsaEllipticCurveKey": ["Ed25519"]}),
    "PS256": ("rsa-generated", {"algorithm": ["PS256"], "keySize": ["2048"]}),
}


def keycloak_mode() -> bool:
    """FHIR_EVIDENCE_TEST_ISSUER=keycloak: the e2e tier's tokens come from Keycloak."""
    return os.environ.get(MODE_VARIABLE, "").strip().lower() == "keycloak"


def needs_own_signing(what: str) -> NoReturn:
    pytest.skip(f"{what}: {OWN_SIGNING}")


@dataclass(frozen=True)
class Shape:
    """Everything a Keycloak client fixes in the tokens it is given."""

    sub: str
    scopes: tuple[str, ...]
    claims: str  # the extra claims as canonical JSON
    audiences: tuple[str, ...]
    client_prefix: str
    lifespan_s: int
    alg: str

    def client_id(self) -> str:
        digest = hashlib.sha256(repr(self).encode()).hexdigest()[:12]
        return f"{self.client_prefix}-{digest}"


@dataclass
class KeycloakRealm:
    """A realm made for one test session (deleted at its end), its SMART client scopes and
    one client per token shape, each made once."""

    keycloak: Keycloak
    name: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}")
    clients: dict[Shape, tuple[str, str]] = field(default_factory=dict)
    scopes: set[str] = field(default_factory=set)
    algorithms: set[str] = field(default_factory=lambda: {"RS256"})
    tokens: int = 0
    realm_s: float = 0.0  # time spent making the realm
    setup_s: float = 0.0  # time spent making scopes, keys and clients

    @property
    def issuer(self) -> str:
        return self.keycloak.issuer_of(self.name)

    def create(self) -> "KeycloakRealm":
        began = time.monotonic()
        self.keycloak.admin.create_realm(self.name)
        self.realm_s = time.monotonic() - began
        return self

    def delete(self) -> None:
        self.keycloak.admin.call("DELETE", f"/{self.name}", expect=204)

    def _ensure_scope(self, name: str) -> None:
        if name in self.scopes:
            return
        self.keycloak.admin.call(
            "POST", f"/{self.name}/client-scopes", expect=201,
            json={"name": name, "protocol": "openid-connect",
                  "attributes": {"include.in.token.scope": "true",
                                 "display.on.consent.screen": "false"}},
        )  # fmt: skip
        self.scopes.add(name)

    def _ensure_algorithm(self, alg: str) -> None:
        if alg in self.algorithms:
            return
        if alg not in _KEY_PROVIDERS:
            raise KeycloakAdminError(f"no key provider for {alg} here")
        provider, config = _KEY_PROVIDERS[alg]
        realm_id = self.keycloak.admin.call("GET", f"/{self.name}").json()["id"]
        self.keycloak.admin.call(
            "POST", f"/{self.name}/components", expect=201,
            json={"name": f"{provider}-{alg.lower()}", "providerId": provider,
                  "providerType": KEY_PROVIDER_TYPE, "parentId": realm_id,
                  "config": {**config, "priority": ["100"], "active": ["true"],
                             "enabled": ["true"]}},
        )  # fmt: skip
        self.algorithms.add(alg)

    def client_for(self, shape: Shape) -> tuple[str, str]:
        """(client_id, secret) of the client that issues tokens of `shape`; made once."""
        known = self.clients.get(shape)
        if known is not None:
            return known
        began = time.monotonic()
        for scope in shape.scopes:
            self._ensure_scope(scope)
        self._ensure_algorithm(shape.alg)
        client_id, secret = shape.client_id(), uuid.uuid4().hex
        mappers = [_claim_mapper("sub", shape.sub)]
        mappers += [_claim_mapper(name, value) for name, value in json.loads(shape.claims).items()]
        mappers += [
            _mapper(f"aud-{n}", "oidc-audience-mapper", {"included.custom.audience": audience})
            for n, audience in enumerate(shape.audiences)
        ]
        attributes = {
            "access.token.header.type.rfc9068": "true",
            "access.token.lifespan": str(shape.lifespan_s),
            "access.token.signed.response.alg": shape.alg,
        }
        self.keycloak.admin.call(
            "POST", f"/{self.name}/clients", expect=201,
            json={"clientId": client_id, "secret": secret, "publicClient": False,
                  "serviceAccountsEnabled": True, "standardFlowEnabled": False,
                  "directAccessGrantsEnabled": False, "fullScopeAllowed": False,
                  # no `basic`: Keycloak's sub mapper would set the service account's id
                  "defaultClientScopes": list(shape.scopes), "optionalClientScopes": [],
                  "attributes": attributes, "protocolMappers": mappers},
        )  # fmt: skip
        self.clients[shape] = (client_id, secret)
        self.setup_s += time.monotonic() - began
        return client_id, secret

    def token(self, shape: Shape) -> str:
        client = self.client_for(shape)
        self.tokens += 1
        return self.keycloak.client_credentials_token("", client=client, realm=self.name)

    def jwks(self) -> dict[str, Any]:
        response = self.keycloak.http.get(f"{self.issuer}/protocol/openid-connect/certs")
        response.raise_for_status()
        return dict(response.json())

    def summary(self) -> str:
        per_client = self.setup_s / len(self.clients) if self.clients else 0.0
        return (
            f"keycloak issuer: realm {self.name} ({self.realm_s:.1f}s to make), {self.tokens} "
            f"tokens from {len(self.clients)} clients and {len(self.scopes)} SMART client "
            f"scopes made in {self.setup_s:.1f}s ({per_client * 1000:.0f} ms a client)"
        )


def _claim_mapper(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        kind, text = "String", value
    elif isinstance(value, bool):
        kind, text = "boolean", "true" if value else "false"
    elif isinstance(value, int):
        kind, text = "long", str(value)
    else:
        kind, text = "JSON", json.dumps(value)
    config = {"claim.name": name, "claim.value": text, "jsonType.label": kind}
    return _mapper(f"claim-{name}", "oidc-hardcoded-claim-mapper", config)


def _payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@dataclass(eq=False)
class KeycloakIssuer(TestIssuer):
    """TestIssuer's interface, every token issued by Keycloak (see the module's doc). Its own
    keys (inherited) are never used: what needs them skips the test."""

    __test__ = False

    realm: KeycloakRealm | None = None
    leeway_s: float = 30.0  # the server's FHIR_EVIDENCE_TOKEN_LEEWAY_S, for expired tokens

    def __post_init__(self) -> None:
        if self.realm is None:
            raise ValueError("KeycloakIssuer needs its realm")
        self.issuer = self.realm.issuer

    def token(self, sub: str, scope: str, ttl: int = 300, alg: str = "RS256", **extra: Any) -> str:
        assert self.realm is not None
        for name in _FIXED_BY_KEYCLOAK:
            if name in extra:
                needs_own_signing(f"a token with `{name}` set by the test")
        audience = extra.pop("aud", self.audience)
        audiences = tuple(audience) if isinstance(audience, list) else (str(audience),)
        prefix = str(extra.pop("client_id", DEFAULT_CLIENT_ID))
        shape = Shape(sub, tuple(sorted(set(scope.split()))), json.dumps(extra, sort_keys=True),
                      audiences, prefix, ttl if ttl > 0 else 1, alg)  # fmt: skip
        token = self.realm.token(shape)
        if ttl <= 0:  # expired: wait until the server's leeway is past too
            expired_at = float(_payload(token)["exp"]) + self.leeway_s + 1
            time.sleep(max(0.0, expired_at - time.time()))
        return token

    def write_jwks(self, path: Path) -> Path:
        """The realm's JWKS as Keycloak publishes it (for a server that trusts a jwks_file)."""
        assert self.realm is not None
        path.write_text(json.dumps(self.realm.jwks()))
        return path

    def claims(self, sub: str, scope: str, ttl: int = 300, **extra: Any) -> dict[str, Any]:
        needs_own_signing("hand-written claims")

    def sign(self, claims: dict[str, Any], alg: str = "RS256", **headers: Any) -> str:
        needs_own_signing("a token signed by the test")

    def sign_raw(self, header: str, payload: str, alg: str = "RS256") -> str:
        needs_own_signing("a token signed by the test")

    def key_for(self, alg: str) -> tuple[Any, str]:
        needs_own_signing("the test's own signing keys")

    def jwks(self) -> dict[str, Any]:
        assert self.realm is not None
        return self.realm.jwks()


# --- the e2e tier in Keycloak mode -----------------------------------------------------------

# The e2e server's leeway in Keycloak mode, so that an expired token (ttl <= 0) costs ~3 s.
KEYCLOAK_MODE_LEEWAY_S = 2
_SUMMARIES: list[str] = []


@pytest.fixture(scope="session")
def keycloak_realm(keycloak: Keycloak) -> Iterator[KeycloakRealm]:
    """A realm of its own for this session's e2e tokens, deleted at the end (a Keycloak kept
    with KEYCLOAK_STATE_DIR stays clean)."""
    realm = KeycloakRealm(keycloak).create()
    yield realm
    _SUMMARIES.append(realm.summary())
    realm.delete()


@pytest.fixture(scope="session")
def keycloak_issuer(keycloak_realm: KeycloakRealm) -> KeycloakIssuer:
    return KeycloakIssuer(realm=keycloak_realm, leeway_s=KEYCLOAK_MODE_LEEWAY_S)


def fresh_issuer(request: pytest.FixtureRequest) -> TestIssuer:
    """An issuer for a test's server of its own: TestIssuer(); in Keycloak mode another
    KeycloakIssuer of the session's realm (its own audience, set when its server starts).
    ServerProcess then trusts the realm's JWKS as Keycloak publishes it (jwks_file) and
    nothing else: no development issuer, no key of ours."""
    if keycloak_mode():
        return KeycloakIssuer(realm=request.getfixturevalue("keycloak_realm"))
    return TestIssuer()


def keycloak_server_env(issuer: TestIssuer) -> dict[str, str]:
    """What an e2e server needs to trust only the Keycloak realm of `issuer`, by discovery
    (its issuer URL alone; audience: the server's default `<base>/fhir`, which the tokens
    carry); nothing for a TestIssuer."""
    if not isinstance(issuer, KeycloakIssuer):
        return {}
    trusted = {"issuer": issuer.issuer, "idp_product": "Keycloak"}
    return {
        "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([trusted]),
        "FHIR_EVIDENCE_TOKEN_LEEWAY_S": str(KEYCLOAK_MODE_LEEWAY_S),
    }


def keycloak_terminal_summary(reporter: Any) -> None:
    """In Keycloak mode: the issuer's cost, and every e2e test skipped because it needs our
    own signing, by name (they must not vanish silently, CI=true or not)."""
    if not keycloak_mode():
        return
    reporter.write_sep("-", f"{MODE_VARIABLE}=keycloak")
    for line in _SUMMARIES:
        reporter.write_line(line)
    skipped = [
        report for report in reporter.stats.get("skipped", [])
        if OWN_SIGNING in str(getattr(report, "longrepr", ""))
    ]  # fmt: skip
    reporter.write_line(f"{len(skipped)} tests skipped: they need our own signing")
    for report in skipped:
        reporter.write_line(f"  {report.nodeid}")


__all__ = [
    "KeycloakIssuer", "KeycloakRealm", "Shape", "fresh_issuer", "keycloak_issuer", "keycloak_mode",
    "keycloak_realm", "keycloak_server_env", "keycloak_terminal_summary", "needs_own_signing",
]  # fmt: skip
