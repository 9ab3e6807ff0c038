"""RFC 7662 answers read strictly (api.security.introspection): only an answer whose
`active` is the JSON literal true, about an access token of the configured issuer, whose
claims pass every check a JWT's pass, yields a principal; an answer that is no answer is the
identity provider's failure, never the token's; the cache bound; which tokens go where."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.security.claims import TokenPolicy, TokenRejected
from api.security.introspection import (
    IntrospectionInvalid,
    IntrospectionRoute,
    believed_until,
    introspected_principal,
    introspecting_issuer,
    opaque_token_shape,
    parse_answer,
)
from evidence.core import ReasonCode

ISSUER, AUDIENCE, NOW = (
    "https://idp.example/realms/fhir",
    "https://fhir.example/fhir",
    1_800_000_000,
)
POLICY = TokenPolicy()
ACTIVE: dict[str, Any] = {
    "active": True,
    "iss": ISSUER,
    "aud": [AUDIENCE, "account"],
    "sub": "svc-1",
    "client_id": "fhir-client",
    "scope": "system/Patient.rs profile",
    "iat": NOW - 10,
    "exp": NOW + 290,
    "jti": "j-1",
    "typ": "Bearer",
    "token_type": "Bearer",
    "patient": "pat-1",
}


def principal(answer: dict[str, Any]) -> Any:
    return introspected_principal(answer, ISSUER, AUDIENCE, NOW, POLICY)


def test_an_active_answer_is_a_principal_of_an_introspected_token() -> None:
    found = principal(ACTIVE)
    assert (found.sub, found.issuer, found.patient, found.token_type) == (
        "svc-1", ISSUER, "pat-1", "introspected"
    )  # fmt: skip
    assert found.scope_strings == ("system/Patient.rs", "profile")
    assert (found.alg, found.kid, found.expires_at) == ("", "", NOW + 290)
    assert principal({k: v for k, v in ACTIVE.items() if k != "iss"}).issuer == ISSUER


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@given(active=_json)
def test_only_the_literal_true_is_active(active: Any) -> None:
    """false: the token is refused (token.inactive); anything else: the answer is refused."""
    if active is True:
        assert principal({**ACTIVE, "active": active}).sub == "svc-1"
        return
    with pytest.raises((TokenRejected, IntrospectionInvalid)) as caught:
        principal({**ACTIVE, "active": active})
    if active is False:
        assert caught.value.code == "token.inactive"
    else:
        assert isinstance(caught.value, IntrospectionInvalid)


@given(member=st.sampled_from(sorted(set(ACTIVE) - {"active"})), value=_json)
def test_a_changed_claim_is_checked_as_a_jwts_would_be(member: str, value: Any) -> None:
    """Every claim the answer carries goes through the JWT checks: a hostile value is
    refused with the token's reason (never a 200 with a partly trusted answer)."""
    answer = {**ACTIVE, member: value}
    try:
        found = principal(answer)
    except TokenRejected as exc:
        assert exc.reason in {
            ReasonCode.TOKEN_MALFORMED, ReasonCode.TOKEN_AUDIENCE_MISMATCH,
            ReasonCode.TOKEN_EXPIRED, ReasonCode.TOKEN_NOT_YET_VALID,
            ReasonCode.TOKEN_LIFETIME_TOO_LONG, ReasonCode.TOKEN_ISSUER_UNTRUSTED,
        }  # fmt: skip
        return
    # Accepted: only values the checks admit, and they are what the principal says.
    assert (
        found.issuer == ISSUER
        and found.sub
        and AUDIENCE in ([answer["aud"]] if isinstance(answer["aud"], str) else answer["aud"])
    )
    assert answer["exp"] + POLICY.leeway_s >= NOW and answer["exp"] - answer["iat"] <= 3600
    assert answer.get("typ") in (None, "Bearer", "bearer") or str(answer["typ"]).lower() in {
        "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"typ": "Refresh"}, ReasonCode.TOKEN_MALFORMED),
        ({"typ": "ID"}, ReasonCode.TOKEN_MALFORMED),
        ({"token_type": "refresh_token"}, ReasonCode.TOKEN_MALFORMED),
        ({"iss": "https://idp.example/realms/other"}, ReasonCode.TOKEN_ISSUER_UNTRUSTED),
        ({"aud": "account"}, ReasonCode.TOKEN_AUDIENCE_MISMATCH),
        ({"exp": NOW - 31}, ReasonCode.TOKEN_EXPIRED),
        ({"exp": NOW + 4000}, ReasonCode.TOKEN_LIFETIME_TOO_LONG),
        ({"sub": ""}, ReasonCode.TOKEN_MALFORMED),
    ],
)
def test_answers_about_other_tokens_are_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        principal({**ACTIVE, **change})
    assert caught.value.reason == reason


@given(body=st.binary(max_size=64) | _json.map(lambda v: json.dumps(v).encode()))
def test_a_body_that_is_not_a_json_object_is_no_answer(body: bytes) -> None:
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if isinstance(value, dict) and b"NaN" not in body and b"Infinity" not in body:
        assert parse_answer(body) == value
        return
    with pytest.raises(IntrospectionInvalid):
        parse_answer(body)


def test_duplicate_members_and_oversize_answers_are_no_answer() -> None:
    with pytest.raises(IntrospectionInvalid):
        parse_answer(b'{"active": false, "active": true}')
    with pytest.raises(IntrospectionInvalid):
        parse_answer(b'{"active": true, "x": "' + b"a" * 70_000 + b'"}')


@given(exp=st.integers(0, 2**40), now=st.floats(0, 2**40), bound=st.floats(0, 3600))
def test_an_answer_is_believed_no_longer_than_exp_and_the_bound(
    exp: int, now: float, bound: float
) -> None:
    until = believed_until(exp, now, bound)
    assert until <= exp and until <= now + bound and until in (exp, now + bound)


def test_which_tokens_are_introspected() -> None:
    route = IntrospectionRoute("https://a", frozenset({"https://a"}))
    assert introspecting_issuer("opaque", None, route) == "https://a"
    assert introspecting_issuer("h.c.s", "https://a", route) == "https://a"
    assert introspecting_issuer("h.c.s", "https://b", route) == ""  # verified as a JWT
    assert introspecting_issuer("h.c.s", "", route) == ""
    opaque_only = IntrospectionRoute("https://a")
    assert introspecting_issuer("h.c.s", "https://a", opaque_only) == ""
    assert introspecting_issuer("opaque", None, IntrospectionRoute()) == ""


@given(token=st.text(max_size=40))
def test_only_b64token_shaped_opaque_tokens_leave_the_server(token: str) -> None:
    import re

    shaped = re.fullmatch(r"[A-Za-z0-9._~+/-]+=*", token) is not None
    try:
        opaque_token_shape(token)
    except TokenRejected as exc:
        assert not shaped and exc.reason is ReasonCode.TOKEN_MALFORMED
    else:
        assert shaped
    with pytest.raises(TokenRejected):
        opaque_token_shape("a" * 8193)
