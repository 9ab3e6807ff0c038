"""Discovery documents read strictly (api.security.idp_metadata): the issuer must match
exactly, every endpoint must be a plain absolute http(s) URL of the issuer's scheme, and one
bad member refuses the whole document; the freshness rules of re-reading; the SMART
configuration advertises what discovery found."""

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.fhir.discovery import capability_statement, smart_configuration
from api.security.idp_metadata import (
    Freshness,
    IssuerMetadata,
    MetadataRefused,
    parse_discovery,
    refresh_due,
    still_usable,
    well_known_urls,
)
from api.settings import Settings

ISSUER = "https://idp.example/realms/fhir"
GOOD: dict[str, Any] = {
    "issuer": ISSUER,
    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "introspection_endpoint": f"{ISSUER}/protocol/openid-connect/token/introspect",
    "revocation_endpoint": f"{ISSUER}/protocol/openid-connect/revoke",
    "code_challenge_methods_supported": ["plain", "S256"],
    "grant_types_supported": ["authorization_code", "client_credentials"],
}
URL_MEMBERS = [
    "jwks_uri",
    "token_endpoint",
    "authorization_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
]
HOSTILE_URLS = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://idp.example/certs",  # downgraded from the issuer's https
    "//idp.example/certs",
    "/protocol/openid-connect/certs",
    "https://user:pw@idp.example/certs",
    "https://idp.example/certs#frag",
    "https://idp.example/ce rts",
    "https://idp.example/certs\n",
    "https://idp.example:0/certs",
    "https://idp.example:99999/certs",
    "https:///certs",
    "https://[::1/certs",
    "",
    "x" * 3000,
]


def test_a_keycloak_shaped_document_is_read_whole() -> None:
    found = parse_discovery(GOOD, ISSUER)
    assert found == IssuerMetadata(
        ISSUER, *(GOOD[m] for m in URL_MEMBERS), code_challenge_methods=("plain", "S256")
    )
    assert parse_discovery({"issuer": ISSUER, "jwks_uri": GOOD["jwks_uri"]}, ISSUER) == (
        IssuerMetadata(ISSUER, GOOD["jwks_uri"])
    )


def test_well_known_locations() -> None:
    assert well_known_urls(ISSUER) == (
        f"{ISSUER}/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server/realms/fhir",
        f"{ISSUER}/.well-known/oauth-authorization-server",
    )
    assert well_known_urls("https://idp.example/") == (
        "https://idp.example/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server",
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@given(member=st.sampled_from(URL_MEMBERS), value=st.sampled_from(HOSTILE_URLS) | _json)
def test_one_hostile_endpoint_refuses_the_whole_document(member: str, value: Any) -> None:
    if value is None:
        value = "javascript:0"  # None is "absent", not hostile
    if isinstance(value, str) and value.startswith("https://"):
        value = value + "#x"  # a generated text that happens to be a URL: made hostile
    with pytest.raises(MetadataRefused):
        parse_discovery({**GOOD, member: value}, ISSUER)


@given(issuer=_json)
def test_a_document_naming_any_other_issuer_is_refused(issuer: Any) -> None:
    if issuer == ISSUER:
        return
    with pytest.raises(MetadataRefused):
        parse_discovery({**GOOD, "issuer": issuer}, ISSUER)
    for near in (ISSUER + "/", ISSUER.upper(), ISSUER.replace("https", "http"), " " + ISSUER):
        with pytest.raises(MetadataRefused):
            parse_discovery({**GOOD, "issuer": near}, ISSUER)


@given(document=_json)
def test_anything_but_a_document_is_refused(document: Any) -> None:
    with pytest.raises(MetadataRefused):
        parse_discovery(document, ISSUER)


@given(methods=_json.filter(lambda v: v is not None))
def test_challenge_methods_must_be_a_list_of_names(methods: Any) -> None:
    is_names = isinstance(methods, list) and all(isinstance(m, str) for m in methods)
    if is_names:
        assert parse_discovery({**GOOD, "code_challenge_methods_supported": methods}, ISSUER)
        return
    with pytest.raises(MetadataRefused):
        parse_discovery({**GOOD, "code_challenge_methods_supported": methods}, ISSUER)


_times = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(refresh=st.floats(1, 1e4), stale=st.floats(1, 1e5), good=_times, attempt=_times, now=_times)
def test_freshness_rules(
    refresh: float, stale: float, good: float, attempt: float, now: float
) -> None:
    fresh = Freshness(refresh, stale, retry_s=30.0)
    due = refresh_due(fresh, good, attempt, now)
    if now - good < refresh:
        assert not due, "a copy younger than the refresh interval is not re-read"
    elif attempt <= good:
        assert due, "an old copy whose last re-read did not fail is re-read"
    else:
        assert due is (now - attempt >= min(30.0, refresh)), "a failed re-read pauses"
    assert still_usable(fresh, good, now) is (now - good <= stale)
    assert not still_usable(fresh, -math.inf, now), "never loaded: never usable"


def test_smart_configuration_advertises_the_discovered_endpoints() -> None:
    settings = Settings(trusted_issuers=[{"issuer": ISSUER}])
    found = parse_discovery(GOOD, ISSUER)
    config = smart_configuration(settings, found)
    assert config["issuer"] == ISSUER and config["jwks_uri"] == GOOD["jwks_uri"]
    for name in ("token", "authorization", "introspection", "revocation"):
        member = f"{name}_endpoint"
        assert config[member] == GOOD[member]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "launch-standalone" in config["capabilities"]
    rest = capability_statement(settings, "0.1", {}, found)["rest"][0]
    uris = {u["url"]: u["valueUri"] for u in rest["security"]["extension"][0]["extension"]}
    assert uris == {
        "token": GOOD["token_endpoint"],
        "authorize": GOOD["authorization_endpoint"],
        "introspect": GOOD["introspection_endpoint"],
        "revoke": GOOD["revocation_endpoint"],
    }
    # Nothing discovered: nothing advertised but what is configured.
    bare = smart_configuration(settings, None)
    assert not {"token_endpoint", "authorization_endpoint", "jwks_uri"} & set(bare)
    # An IdP without S256 PKCE cannot serve the SMART app launch.
    plain_only = parse_discovery({**GOOD, "code_challenge_methods_supported": ["plain"]}, ISSUER)
    config = smart_configuration(settings, plain_only)
    assert "authorization_endpoint" not in config
    assert "launch-standalone" not in config["capabilities"]
