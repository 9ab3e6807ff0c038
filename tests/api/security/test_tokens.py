"""Adversarial access tokens: every refusal carries exactly one contract reason code."""

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from api.security.principal import Principal
from api.security.tokens import (
    MAX_TOKEN_BYTES,
    TokenPolicy,
    TokenRejected,
    TrustedKeys,
    verify_access_token,
)
from evidence.core import ReasonCode
from tests.api.security.tokenkit import (
    DROP,
    ISSUER,
    NOW,
    Keyring,
    b64,
    b64_json,
    base_claims,
    resign_payload,
    sign_raw,
)

POLICY = TokenPolicy()


def verify(
    ring: Keyring, token: str, trusted: dict[str, TrustedKeys] | None = None, now: int = NOW
) -> Principal:
    return verify_access_token(token, ring.trusted() if trusted is None else trusted, now, POLICY)


def rejected(ring: Keyring, token: str, **kwargs: Any) -> ReasonCode:
    with pytest.raises(TokenRejected) as caught:
        verify(ring, token, **kwargs)
    return caught.value.reason


def test_a_well_formed_token_is_accepted(ring: Keyring) -> None:
    assert verify(ring, ring.mint()).sub == "user-1"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        "not.a.token",
        "%%%.%%%.%%%",
        "é.é.é",
        b64(b"[1]") + ".e30.",
        b64(b'{"typ":"at+jwt"}') + ".e30.",  # no alg at all
        b64(b'{"alg":5}') + ".e30.",
        b64(b"[" * 5000) + ".e30.",  # deeply nested JSON header
    ],
    ids=lambda t: repr(t[:20]),
)
def test_garbage_is_malformed(ring: Keyring, token: str) -> None:
    assert rejected(ring, token) is ReasonCode.TOKEN_MALFORMED


def test_payload_that_is_not_a_json_object_is_malformed(ring: Keyring) -> None:
    header = b64_json({"alg": "RS256", "kid": "rsa-1"})
    for payload in (b"[1]", b"not json", b"\xff\xfe", b'"iss"'):
        assert rejected(ring, f"{header}.{b64(payload)}.sig") is ReasonCode.TOKEN_MALFORMED


def test_oversize_token_is_malformed_before_any_parsing(ring: Keyring) -> None:
    padding = "x" * MAX_TOKEN_BYTES
    assert rejected(ring, ring.mint(pad=padding)) is ReasonCode.TOKEN_MALFORMED


def test_unsigned_alg_none_is_refused(ring: Keyring) -> None:
    token = sign_raw(
        {"alg": "none", "typ": "at+jwt"}, json.dumps(base_claims()).encode(), None, "none"
    )
    assert token.endswith(".")
    assert rejected(ring, token) is ReasonCode.TOKEN_ALG_NOT_ALLOWED
    for spelling in ("None", "NONE", "nOnE"):
        forged = f"{b64_json({'alg': spelling})}.{token.split('.')[1]}."
        assert rejected(ring, forged) is ReasonCode.TOKEN_ALG_NOT_ALLOWED


def hs256_with_public_pem(ring: Keyring) -> str:
    pem = ring.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64_json({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'rsa-1'})}."
    signing_input += b64(json.dumps(base_claims()).encode())
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_key_confusion_hs256_signed_with_the_public_pem_is_refused(ring: Keyring) -> None:
    token = hs256_with_public_pem(ring)
    assert rejected(ring, token) is ReasonCode.TOKEN_ALG_NOT_ALLOWED
    # Even an issuer misconfigured to list HS256 never gets HMAC verification.
    lax = ring.trusted(algorithms=frozenset({"RS256", "HS256"}))
    assert rejected(ring, token, trusted=lax) is ReasonCode.TOKEN_ALG_NOT_ALLOWED


@pytest.mark.parametrize(
    ("alg", "kid"),
    [("RS256", "ec-1"), ("PS256", "ed-1"), ("ES256", "rsa-1"), ("EdDSA", "ec-1")],
)
def test_algorithm_that_does_not_fit_the_selected_key_is_refused(
    ring: Keyring, alg: str, kid: str
) -> None:
    token = ring.mint(alg=alg, headers={"kid": kid})
    assert rejected(ring, token) is ReasonCode.TOKEN_ALG_NOT_ALLOWED


def test_algorithm_outside_the_issuers_subset_is_refused(ring: Keyring) -> None:
    only_ec = ring.trusted(algorithms=frozenset({"ES256"}))
    assert verify(ring, ring.mint(alg="ES256"), trusted=only_ec).alg == "ES256"
    for alg in ("RS256", "PS256", "EdDSA"):
        assert rejected(ring, ring.mint(alg=alg), trusted=only_ec) is (
            ReasonCode.TOKEN_ALG_NOT_ALLOWED
        )


def test_algorithm_outside_the_contract_is_refused_even_if_the_issuer_lists_it(
    ring: Keyring,
) -> None:
    lax = ring.trusted(algorithms=frozenset({"RS256", "RS512"}))
    assert rejected(ring, ring.mint(alg="RS512"), trusted=lax) is ReasonCode.TOKEN_ALG_NOT_ALLOWED


def test_payload_altered_after_signing_is_signature_invalid(ring: Keyring) -> None:
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        token = ring.mint(alg=alg)
        forged = base_claims() | {"sub": "admin", "scope": "system/*.cruds"}
        tampered = resign_payload(token, json.dumps(forged).encode())
        assert rejected(ring, tampered) is ReasonCode.TOKEN_SIGNATURE_INVALID, alg


def test_header_altered_after_signing_is_signature_invalid(ring: Keyring) -> None:
    _, payload, signature = ring.mint(alg="RS256").split(".")
    header = b64_json({"alg": "PS256", "typ": "at+jwt", "kid": "rsa-1"})
    assert rejected(ring, f"{header}.{payload}.{signature}") is ReasonCode.TOKEN_SIGNATURE_INVALID


def test_token_signed_by_an_unrelated_key_is_signature_invalid(ring: Keyring) -> None:
    token = ring.mint(key=ring.attacker)
    assert rejected(ring, token) is ReasonCode.TOKEN_SIGNATURE_INVALID


@pytest.mark.parametrize("iss", [DROP, "https://evil.example", "", ["x"], 7, ISSUER + "/"])
def test_untrusted_or_missing_issuer_is_refused(ring: Keyring, iss: object) -> None:
    assert rejected(ring, ring.mint(iss=iss)) is ReasonCode.TOKEN_ISSUER_UNTRUSTED


def test_issuer_is_judged_before_the_algorithm(ring: Keyring) -> None:
    token = sign_raw({"alg": "none"}, json.dumps(base_claims()).encode(), None, "none")
    assert rejected(ring, token, trusted={}) is ReasonCode.TOKEN_ISSUER_UNTRUSTED


@pytest.mark.parametrize(
    "aud", [DROP, "https://other.example/fhir", ["https://other.example"], [], 5, None]
)
def test_wrong_or_missing_audience_is_refused(ring: Keyring, aud: object) -> None:
    assert rejected(ring, ring.mint(aud=aud)) is ReasonCode.TOKEN_AUDIENCE_MISMATCH


def test_audience_list_containing_ours_is_accepted(ring: Keyring) -> None:
    aud = ["https://other.example", ring.trusted()[ISSUER].audience]
    assert verify(ring, ring.mint(aud=aud)).sub == "user-1"


def test_expiry_honours_the_leeway(ring: Keyring) -> None:
    token = ring.mint(iat=NOW - 600, exp=NOW - 31)
    assert rejected(ring, token) is ReasonCode.TOKEN_EXPIRED
    assert verify(ring, ring.mint(iat=NOW - 600, exp=NOW - 29)).expires_at == NOW - 29
    assert rejected(ring, ring.mint(iat=NOW - 600, exp=NOW - 100_000)) is ReasonCode.TOKEN_EXPIRED


def test_not_before_in_the_future_is_not_yet_valid(ring: Keyring) -> None:
    assert rejected(ring, ring.mint(nbf=NOW + 31)) is ReasonCode.TOKEN_NOT_YET_VALID
    assert verify(ring, ring.mint(nbf=NOW + 29)).sub == "user-1"


def test_issued_in_the_future_beyond_leeway_is_not_yet_valid(ring: Keyring) -> None:
    token = ring.mint(iat=NOW + 31, exp=NOW + 300)
    assert rejected(ring, token) is ReasonCode.TOKEN_NOT_YET_VALID
    assert verify(ring, ring.mint(iat=NOW + 29, exp=NOW + 300)).sub == "user-1"


def test_lifetime_over_the_maximum_is_refused(ring: Keyring) -> None:
    assert verify(ring, ring.mint(iat=NOW, exp=NOW + 3600)).sub == "user-1"
    assert rejected(ring, ring.mint(iat=NOW, exp=NOW + 3601)) is ReasonCode.TOKEN_LIFETIME_TOO_LONG
    strict = TokenPolicy(max_lifetime_s=300)
    with pytest.raises(TokenRejected) as caught:
        verify_access_token(ring.mint(iat=NOW, exp=NOW + 301), ring.trusted(), NOW, strict)
    assert caught.value.reason is ReasonCode.TOKEN_LIFETIME_TOO_LONG


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": DROP},
        {"iat": DROP},
        {"sub": DROP},
        {"sub": ""},
        {"sub": 42},
        {"exp": "soon"},
        {"exp": str(NOW + 100)},
        {"exp": True},
        {"exp": None},
        {"exp": [NOW + 100]},
        {"iat": "yesterday"},
        {"nbf": "later"},
    ],
    ids=lambda claims: repr(claims).replace(repr(DROP), "DROP"),  # the same in every process
)
def test_missing_or_non_numeric_required_claims_are_malformed(
    ring: Keyring, claims: dict[str, Any]
) -> None:
    assert rejected(ring, ring.mint(**claims)) is ReasonCode.TOKEN_MALFORMED


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_non_finite_numeric_claims_are_malformed_not_a_crash(
    ring: Keyring, claim: str, value: str
) -> None:
    # Python's JSON parser reads NaN/Infinity; such a claim used to escape as ValueError.
    text = json.dumps(base_claims())[:-1] + f', "{claim}": {value}}}'
    token = sign_raw({"alg": "ES256", "kid": "ec-1"}, text.encode(), ring.ec_key, "ES256")
    assert rejected(ring, token) is ReasonCode.TOKEN_MALFORMED
