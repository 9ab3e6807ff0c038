"""Accepted tokens: every allowed algorithm, the principal's fields, and fuzzed input."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.security.principal import Principal
from api.security.scopes import Scope
from api.security.tokens import TokenPolicy, TokenRejected, verify_access_token
from evidence.core import ReasonCode
from tests.api.security.tokenkit import (
    ALL_ALGS,
    AUDIENCE,
    DROP,
    ISSUER,
    NOW,
    Keyring,
    b64,
    sign_raw,
)

POLICY = TokenPolicy()


def verify(ring: Keyring, token: str, **kwargs: Any) -> Principal:
    return verify_access_token(token, ring.trusted(**kwargs), NOW, POLICY)


def rejected(ring: Keyring, token: str) -> ReasonCode:
    with pytest.raises(TokenRejected) as caught:
        verify(ring, token)
    return caught.value.reason


@pytest.mark.parametrize("alg", sorted(ALL_ALGS))
def test_each_contract_algorithm_is_accepted_when_the_issuer_allows_it(
    ring: Keyring, alg: str
) -> None:
    principal = verify(ring, ring.mint(alg=alg), algorithms=frozenset({alg}))
    assert principal.alg == alg
    assert principal.kid == ring.key_for(alg)[1]


@pytest.mark.parametrize("alg", sorted(ALL_ALGS))
def test_each_contract_algorithm_is_refused_when_the_issuer_does_not_list_it(
    ring: Keyring, alg: str
) -> None:
    with pytest.raises(TokenRejected) as caught:
        verify(ring, ring.mint(alg=alg), algorithms=ALL_ALGS - {alg})
    assert caught.value.reason is ReasonCode.TOKEN_ALG_NOT_ALLOWED


def test_keys_come_from_the_issuers_jwks(ring: Keyring) -> None:
    keys = ring.public_keys()
    assert {"rsa-1", "ec-1", "ed-1"} <= set(keys)
    assert verify(ring, ring.mint(alg="ES256"), keys={"ec-1": keys["ec-1"]}).kid == "ec-1"


def test_principal_carries_every_claim(ring: Keyring) -> None:
    token = ring.mint(
        alg="PS256",
        sub="prac-7",
        client_id="ehr-app",
        jti="j-123",
        patient="pat-9",
        fhirUser="Practitioner/prac-7",
        purpose_of_use="ETREAT",
        sensitivity_clearance=["HIV", "R"],
        scope="user/Observation.rs patient/*.read system/AuditEvent.rs openid launch bogus",
    )
    principal = verify(ring, token)
    assert principal.sub == "prac-7"
    assert principal.issuer == ISSUER
    assert principal.client_id == "ehr-app"
    assert principal.jti == "j-123"
    assert principal.patient == "pat-9"
    assert principal.fhir_user == "Practitioner/prac-7"
    assert principal.purpose_of_use == "ETREAT"
    assert principal.break_glass
    assert principal.clearance == frozenset({"HIV", "R"})
    assert principal.alg == "PS256" and principal.kid == "rsa-1"
    assert principal.expires_at == NOW + 290
    assert all(isinstance(s, Scope) for s in principal.scopes)
    assert [s.raw for s in principal.scopes] == [
        "user/Observation.rs",
        "patient/*.read",
        "system/AuditEvent.rs",
    ]
    assert principal.scope_strings[-3:] == ("openid", "launch", "bogus")
    assert not principal.has_export_scope
    assert principal.token_model == "smart-v1+v2"


@pytest.mark.parametrize(
    ("clearance", "expected"),
    [
        ("HIV,R", {"HIV", "R"}),
        ("HIV, PSY ,R", {"HIV", "PSY", "R"}),
        ("SUD", {"SUD"}),
        (["V"], {"V"}),
        ([], set()),
        ("", set()),
        (7, set()),
        ({"HIV": True}, set()),
    ],
    ids=repr,
)
def test_sensitivity_clearance_as_list_or_comma_string(
    ring: Keyring, clearance: object, expected: set[str]
) -> None:
    principal = verify(ring, ring.mint(sensitivity_clearance=clearance))
    assert principal.clearance == frozenset(expected)


def test_export_scope_flag_and_minimal_claims(ring: Keyring) -> None:
    principal = verify(ring, ring.mint(scope="system/Patient.read export"))
    assert principal.has_export_scope
    assert principal.token_model == "smart-v1"
    bare = verify(ring, ring.mint(scope=""))
    assert (bare.scopes, bare.client_id, bare.patient, bare.fhir_user)[0] == ()
    assert bare.token_model == "jwt"
    assert not bare.break_glass


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": 7},
        {"scope": ["system/*.rs"]},
        {"client_id": ["x"]},
        {"patient": 1},
        {"fhirUser": None},
        {"purpose_of_use": "SNOOPING"},
        {"purpose_of_use": ["TREAT"]},
    ],
)
def test_claims_of_the_wrong_shape_are_malformed(ring: Keyring, claims: dict[str, object]) -> None:
    assert rejected(ring, ring.mint(**claims)) is ReasonCode.TOKEN_MALFORMED


def test_exportlike_strings_do_not_set_the_export_flag(ring: Keyring) -> None:
    for scope in ("exports", "system/export", "Export", "bulk/export"):
        assert not verify(ring, ring.mint(scope=scope)).has_export_scope


# --- fuzzing: whatever arrives, the only failure is a TokenRejected --------------------

SEGMENT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
NEAR_NOW = st.integers(NOW - 4000, NOW + 4000) | st.floats(NOW - 4000, NOW + 4000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.tuples(SEGMENT, SEGMENT, SEGMENT).map(".".join)))
def test_arbitrary_text_is_only_ever_rejected(ring: Keyring, token: str) -> None:
    with pytest.raises(TokenRejected):
        verify(ring, token)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=JSONISH, payload=JSONISH)
def test_arbitrary_json_segments_are_only_ever_rejected(
    ring: Keyring, header: object, payload: object
) -> None:
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.c2ln"
    with pytest.raises(TokenRejected):
        verify(ring, token)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=st.dictionaries(
        st.sampled_from(["exp", "iat", "nbf", "sub", "aud", "scope", "patient", "jti"]),
        JSONISH | NEAR_NOW | st.sampled_from([AUDIENCE, [AUDIENCE, "x"], "user-1"]),
    )
)
def test_signed_tokens_with_odd_claims_verify_or_reject_cleanly(
    ring: Keyring, claims: dict[str, Any]
) -> None:
    payload = {"iss": ISSUER, **claims}
    token = sign_raw(
        {"alg": "ES256", "kid": "ec-1"}, json.dumps(payload).encode(), ring.ec_key, "ES256"
    )
    try:
        principal = verify(ring, token)
    except TokenRejected as exc:
        assert exc.reason in set(ReasonCode)
    else:  # accepted only when every contract condition holds
        exp, iat = claims["exp"], claims["iat"]
        aud = claims["aud"]
        assert principal.sub == claims["sub"] and isinstance(claims["sub"], str)
        assert aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud)
        assert exp + 30 >= NOW and iat - 30 <= NOW and exp - iat <= 3600
        assert claims.get("nbf", iat) - 30 <= NOW


@settings(max_examples=200, deadline=None)
@given(
    exp=st.integers(NOW - 4000, NOW + 4000),
    iat=st.integers(NOW - 4000, NOW + 4000),
    nbf=st.none() | st.integers(NOW - 4000, NOW + 4000),
)
def test_time_claims_follow_the_contract(
    ring: Keyring, exp: int, iat: int, nbf: int | None
) -> None:
    start = iat if nbf is None else max(iat, nbf)
    assume(exp + 30 != NOW)  # the exact boundary second is not pinned by the contract
    token = ring.mint(alg="ES256", exp=exp, iat=iat, nbf=DROP if nbf is None else nbf)
    if exp + 30 < NOW:
        expected: ReasonCode | None = ReasonCode.TOKEN_EXPIRED
    elif start - 30 > NOW:
        expected = ReasonCode.TOKEN_NOT_YET_VALID
    elif exp - iat > 3600:
        expected = ReasonCode.TOKEN_LIFETIME_TOO_LONG
    else:
        expected = None
    try:
        verify(ring, token)
        reason = None
    except TokenRejected as exc:
        reason = exc.reason
    assert reason is expected
