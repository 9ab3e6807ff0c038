"""Keycloak's admin REST API for tests: realm keys (rotation and removal), extra realms and
clients made on the fly (another audience, a short token lifespan), as the bootstrap admin."""

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

KEY_PROVIDER_TYPE = "org.keycloak.keys.KeyProvider"


class KeycloakAdminError(RuntimeError):
    """An admin API call answered an unexpected status."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    provider_id: str  # the key provider component that holds it
    priority: int


@dataclass(frozen=True)
class KeyRotation:
    new: SigningKey  # now the active RS256 key: new tokens are signed with it
    old: list[SigningKey]  # the RS256 keys before, still published until removed


class KeycloakAdmin:
    def __init__(self, base_url: str, password: str, http: httpx.Client) -> None:
        self.base_url = base_url
        self._password = password
        self._http = http
        self._token = ""
        self._token_until = 0.0

    def admin_token(self) -> str:
        """A master-realm token of the bootstrap admin (admin-cli), renewed before it expires."""
        if time.monotonic() < self._token_until:
            return self._token
        response = self._http.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                  "password": self._password},
        )  # fmt: skip
        _expect(response, 200, "admin token")
        body = response.json()
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + float(body["expires_in"]) - 10
        return self._token

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> httpx.Response:
        """`method /admin/realms/...path`; KeycloakAdminError unless it answers `expect`."""
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        response = self._http.request(
            method, f"{self.base_url}/admin/realms{path}", headers=headers, **kwargs
        )
        _expect(response, expect, f"{method} {path}")
        return response

    # --- keys --------------------------------------------------------------------------------

    def signing_keys(self, realm: str) -> list[SigningKey]:
        """The realm's active RS256 signing keys, highest priority (the one in use) first."""
        keys = self.call("GET", f"/{realm}/keys").json()["keys"]
        found = [
            SigningKey(k["kid"], k["providerId"], int(k["providerPriority"]))
            for k in keys
            if k.get("algorithm") == "RS256" and k.get("use") == "SIG" and k["status"] == "ACTIVE"
        ]
        return sorted(found, key=lambda key: -key.priority)

    def rotate_keys(self, realm: str) -> KeyRotation:
        """Add an rsa-generated key provider above every existing one: Keycloak signs new
        tokens with its key at once and publishes both keys until the old is removed."""
        old = self.signing_keys(realm)
        priority = max((key.priority for key in old), default=100) + 10
        realm_id = self.call("GET", f"/{realm}").json()["id"]
        name = f"rsa-rotated-{uuid.uuid4().hex[:8]}"
        config = {"priority": [str(priority)], "algorithm": ["RS256"], "keySize": ["2048"],
                  "active": ["true"], "enabled": ["true"]}  # fmt: skip
        self.call(
            "POST", f"/{realm}/components", expect=201,
            json={"name": name, "providerId": "rsa-generated", "providerType": KEY_PROVIDER_TYPE,
                  "parentId": realm_id, "config": config},
        )  # fmt: skip
        new = self.signing_keys(realm)[0]
        if new.priority != priority or new.kid in {key.kid for key in old}:
            raise KeycloakAdminError(f"the rotated key is not the active one: {new}")
        return KeyRotation(new, old)

    def remove_key_provider(self, realm: str, provider_id: str) -> None:
        """Delete a key provider: its key leaves the realm's JWKS."""
        self.call("DELETE", f"/{realm}/components/{provider_id}", expect=204)

    # --- realms and clients ------------------------------------------------------------------

    def create_realm(self, realm: str) -> None:
        self.call("POST", "", expect=201, json={"realm": realm, "enabled": True})

    def create_service_client(
        self, realm: str, client_id: str, audience: str, token_lifespan_s: int | None = None
    ) -> tuple[str, str]:
        """A confidential client (client credentials) whose tokens carry `audience` alone in
        `aud`, `sub` and a `client_id` claim; (client_id, secret)."""
        secret = uuid.uuid4().hex
        attributes = {"access.token.header.type.rfc9068": "true"}
        if token_lifespan_s is not None:
            attributes["access.token.lifespan"] = str(token_lifespan_s)
        mappers = [
            _mapper("aud", "oidc-audience-mapper", {"included.custom.audience": audience}),
            _mapper("client_id", "oidc-hardcoded-claim-mapper",
                    {"claim.name": "client_id", "claim.value": client_id,
                     "jsonType.label": "String"}),
        ]  # fmt: skip
        self.call(
            "POST", f"/{realm}/clients", expect=201,
            json={"clientId": client_id, "secret": secret, "publicClient": False,
                  "serviceAccountsEnabled": True, "standardFlowEnabled": False,
                  "directAccessGrantsEnabled": False, "fullScopeAllowed": False,
                  # not the realm's default scopes (ours put our audience in every token)
                  "defaultClientScopes": ["basic"], "optionalClientScopes": [],
                  "attributes": attributes, "protocolMappers": mappers},
        )  # fmt: skip
        return client_id, secret


def _mapper(name: str, kind: str, config: dict[str, str]) -> dict[str, Any]:
    config = {**config, "access.token.claim": "true", "id.token.claim": "false"}
    return {"name": name, "protocol": "openid-connect", "protocolMapper": kind, "config": config}


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise KeycloakAdminError(f"{what}: {response.status_code} {response.text[:300]}")


__all__ = ["KeyRotation", "KeycloakAdmin", "KeycloakAdminError", "SigningKey"]
