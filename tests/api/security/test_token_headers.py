"""Token headers: typ, kid selection, and key-location headers that are never followed."""

import json
import socket
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from api.security.principal import Principal
from api.security.tokens import (
    TokenPolicy,
    TokenRejected,
    TrustedKeys,
    UnknownKey,
    verify_access_token,
)
from evidence.core import ReasonCode
from tests.api.security.tokenkit import DROP, ISSUER, NOW, Keyring

POLICY = TokenPolicy()


def verify(ring: Keyring, token: str, trusted: dict[str, TrustedKeys] | None = None) -> Principal:
    return verify_access_token(token, ring.trusted() if trusted is None else trusted, NOW, POLICY)


def rejected(ring: Keyring, token: str) -> ReasonCode:
    with pytest.raises(TokenRejected) as caught:
        verify(ring, token)
    return caught.value.reason


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a connection (jku, x5u, a JWKS URL) fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("token verification tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def test_unknown_kid_raises_unknown_key_with_signature_invalid(ring: Keyring) -> None:
    with pytest.raises(UnknownKey) as caught:
        verify(ring, ring.mint(headers={"kid": "rotated-away"}))
    assert isinstance(caught.value, TokenRejected)
    assert caught.value.reason is ReasonCode.TOKEN_SIGNATURE_INVALID
    assert caught.value.issuer == ISSUER


def test_missing_kid_uses_the_only_key_but_is_unknown_among_several(ring: Keyring) -> None:
    token = ring.mint(headers={"kid": DROP})
    single = ring.trusted(keys={"only": ring.rsa_key.public_key()})
    assert verify(ring, token, trusted=single).kid == ""
    with pytest.raises(UnknownKey):
        verify(ring, token)


@pytest.mark.parametrize("typ", ["JOSE", "id_token", "jwt+at", "", "at+jwt ", 5, ["at+jwt"]])
def test_unexpected_typ_header_is_malformed(ring: Keyring, typ: object) -> None:
    assert rejected(ring, ring.mint(headers={"typ": typ})) is ReasonCode.TOKEN_MALFORMED


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "JWT", DROP])
def test_expected_typ_headers_are_accepted(ring: Keyring, typ: object) -> None:
    assert verify(ring, ring.mint(headers={"typ": typ})).sub == "user-1"


def attacker_jwk(ring: Keyring) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ring.attacker.public_key()))
    return jwk | {"kid": "attacker-1", "alg": "RS256"}


@pytest.mark.parametrize(
    "extra",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": ["MIIBfakecertificate"]},
    ],
    ids=lambda e: next(iter(e)),
)
def test_key_location_headers_are_ignored_on_a_genuine_token(
    ring: Keyring, no_network: None, extra: dict[str, Any]
) -> None:
    assert verify(ring, ring.mint(headers=extra)).sub == "user-1"


@pytest.mark.parametrize("kid", ["rsa-1", "attacker-1", DROP])
@pytest.mark.parametrize("where", ["jwk", "jku", "x5u"])
def test_attacker_signed_token_carrying_its_own_key_is_refused(
    ring: Keyring, no_network: None, where: str, kid: object
) -> None:
    pointer: object = attacker_jwk(ring) if where == "jwk" else "https://evil.example/keys"
    token = ring.mint(key=ring.attacker, headers={where: pointer, "kid": kid})
    with pytest.raises(TokenRejected) as caught:
        verify(ring, token)
    assert caught.value.reason is ReasonCode.TOKEN_SIGNATURE_INVALID
    # Only the key the issuer published under that kid was ever consulted.
    single = ring.trusted(keys={"rsa-1": ring.rsa_key.public_key()})
    with pytest.raises(TokenRejected) as again:
        verify(ring, token, trusted=single)
    assert again.value.reason is ReasonCode.TOKEN_SIGNATURE_INVALID


def test_keys_of_another_trusted_issuer_do_not_verify(ring: Keyring) -> None:
    other = "https://other-issuer.example"
    trusted = ring.trusted() | {
        other: TrustedKeys(
            other, "aud-2", frozenset({"RS256"}), {"att": ring.attacker.public_key()}
        )
    }
    token = ring.mint(key=ring.attacker, headers={"kid": "att"})  # claims iss = ISSUER
    with pytest.raises(UnknownKey):
        verify(ring, token, trusted=trusted)


@pytest.mark.parametrize("kid", [5, None, ["rsa-1"], {"kid": "rsa-1"}], ids=repr)
def test_non_string_kid_is_malformed(ring: Keyring, kid: object) -> None:
    assert rejected(ring, ring.mint(headers={"kid": kid})) is ReasonCode.TOKEN_MALFORMED


def test_empty_kid_among_several_keys_is_unknown(ring: Keyring) -> None:
    with pytest.raises(UnknownKey) as caught:
        verify(ring, ring.mint(headers={"kid": ""}))
    assert caught.value.reason is ReasonCode.TOKEN_SIGNATURE_INVALID
