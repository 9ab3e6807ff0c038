"""A trusted identity provider over real HTTP (tests/api/access/idp_stub.py), through the
guard with a test clock: discovery from the issuer URL alone (and its failures at start-up),
a key removed from the JWKS stops verifying within the refresh bound (cached tokens too),
the last good keys serve at most the stale bound during an outage (then 503), and RFC 7662
introspection: active, cached within its bound, revoked, inactive, down, slow, malformed."""

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from api.access.discovery import DiscoveryFailed
from api.access.guard import Guard
from api.access.introspector import Introspector
from api.access.issuers import IssuerBounds, IssuerKeys
from api.errors import ServiceUnavailable, Unauthorized
from api.security.idp_metadata import Freshness
from api.security.tokens import TokenPolicy
from api.settings import TrustedIssuer
from evidence.core import ReasonCode
from tests.api.access.idp_stub import CLIENT, IdpStub
from tests.support import TestIssuer

AUDIENCE = "https://fhir.example/fhir"
BOUNDS = IssuerBounds(Freshness(300.0, 1000.0), Freshness(3600.0, 1000.0))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[IdpStub]:
    stub = IdpStub()
    yield stub
    stub.stop()


def _signer(idp: IdpStub) -> TestIssuer:
    signer = TestIssuer(issuer=idp.issuer, audience=AUDIENCE)
    idp.jwks = signer.jwks()
    return signer


def _guard(config: TrustedIssuer, clock: Clock) -> Guard:
    keys = IssuerKeys([config], AUDIENCE, BOUNDS, clock)
    introspector = Introspector(keys, [config]) if config.introspection != "off" else None
    return Guard(keys, TokenPolicy(), None, clock, introspector=introspector)  # type: ignore[arg-type]


def _refusal(guard: Guard, token: str) -> Unauthorized | ServiceUnavailable:
    with pytest.raises((Unauthorized, ServiceUnavailable)) as caught:
        guard.authenticate(f"Bearer {token}")
    assert isinstance(caught.value, Unauthorized | ServiceUnavailable)
    return caught.value


def test_an_issuer_given_by_its_url_alone_is_discovered(idp: IdpStub) -> None:
    signer = _signer(idp)
    clock = Clock()
    guard = _guard(TrustedIssuer(issuer=idp.issuer, idp_product="keycloak"), clock)
    found = guard.issuer_metadata(idp.issuer)
    assert (
        found is not None
        and found.introspection_endpoint == idp.document()["introspection_endpoint"]
    )
    principal = guard.authenticate(f"Bearer {signer.token('svc', 'system/Patient.rs', 1800)}")
    assert (principal.token_type, principal.idp_product, principal.idp_version) == (
        "jwt", "keycloak", ""
    )  # fmt: skip

    for change in ({"issuer": idp.issuer + "/"}, {"jwks_uri": "ftp://x/certs"}):
        idp.discovery_overrides = change
        with pytest.raises(DiscoveryFailed):
            IssuerKeys([TrustedIssuer(issuer=idp.issuer)], AUDIENCE, BOUNDS, clock)
    idp.discovery_overrides, idp.modes = {}, {"openid-configuration": "down"}
    with pytest.raises(DiscoveryFailed) as caught:
        IssuerKeys([TrustedIssuer(issuer=idp.issuer)], AUDIENCE, BOUNDS, clock)
    assert "HTTP 503" in str(caught.value)
    # Later failures keep the last good metadata, within the stale bound.
    clock.now += 3600
    now = int(clock.now)
    later = signer.token("svc", "system/Patient.rs", iat=now, exp=now + 300)
    assert guard.authenticate(f"Bearer {later}").sub == "svc"
    assert idp.count("openid-configuration") == 5, "re-read after discovery_refresh_s"
    assert guard.issuer_metadata(idp.issuer) == found


def test_a_removed_key_stops_verifying_within_the_refresh_bound(idp: IdpStub) -> None:
    signer, clock = _signer(idp), Clock()
    guard = _guard(TrustedIssuer(issuer=idp.issuer, jwks_uri=idp.document()["jwks_uri"]), clock)
    old = signer.token("svc", "system/Patient.rs", 1800)  # rsa-1
    assert guard.authenticate(f"Bearer {old}").sub == "svc"
    fetches = idp.count("/certs")

    rotated = TestIssuer(issuer=idp.issuer, audience=AUDIENCE)
    new_jwk = rotated.jwks()["keys"][0] | {"kid": "rsa-2"}
    idp.jwks = {"keys": [*idp.jwks["keys"], new_jwk]}  # rotation step 1: a new key added
    new = jwt.encode(rotated.claims("svc", "system/Patient.rs", 1800), rotated.rsa_key,
                     algorithm="RS256", headers={"kid": "rsa-2"})  # fmt: skip
    assert guard.authenticate(f"Bearer {new}").sub == "svc", "unknown kid: picked up at once"
    assert idp.count("/certs") == fetches + 1

    idp.jwks = {"keys": [new_jwk]}  # step 2: the old key removed
    clock.now += 299
    assert guard.authenticate(f"Bearer {old}").sub == "svc"  # within the bound: may serve
    clock.now += 1
    refused = _refusal(guard, old)  # the cached token too
    assert refused.reason is ReasonCode.TOKEN_SIGNATURE_INVALID
    assert guard.authenticate(f"Bearer {new}").sub == "svc"

    # An outage: the last good keys serve up to the stale bound, then 503 (fail closed).
    idp.modes = {"/certs": "down"}
    clock.now += 999
    assert guard.authenticate(f"Bearer {new}").sub == "svc"
    clock.now += 2
    assert _refusal(guard, new).reason is ReasonCode.ISSUER_UNAVAILABLE
    idp.modes = {}
    clock.now += 30  # the retry pause after a failed re-read: it heals by itself
    assert guard.authenticate(f"Bearer {new}").sub == "svc"


def _introspecting(idp: IdpStub, mode: str = "opaque") -> TrustedIssuer:
    return TrustedIssuer(
        issuer=idp.issuer, introspection=mode, introspection_client_id=CLIENT[0],
        introspection_client_secret=CLIENT[1], idp_product="keycloak", idp_version="26.7.3",
    )  # fmt: skip


def _active(signer: TestIssuer, **extra: Any) -> dict[str, Any]:
    return {"active": True, **signer.claims("user-1", "patient/*.rs", 1800, **extra)}


def test_opaque_tokens_are_introspected_cached_within_the_bound_and_revocable(
    idp: IdpStub,
) -> None:
    signer, clock = _signer(idp), Clock()
    guard = _guard(_introspecting(idp), clock)
    idp.active["opaque-1"] = _active(signer, patient="pat-1")
    principal = guard.authenticate("Bearer opaque-1")
    assert (principal.patient, principal.token_type, principal.alg) == ("pat-1", "introspected", "")
    assert (principal.idp_product, principal.idp_version) == ("keycloak", "26.7.3")
    assert guard.authenticate("Bearer opaque-1") == principal
    assert idp.count("/introspect") == 1, "an active answer is cached"

    del idp.active["opaque-1"]  # revoked at the IdP
    clock.now += 59
    assert guard.authenticate("Bearer opaque-1") == principal  # within the bound
    clock.now += 2
    refused = _refusal(guard, "opaque-1")
    assert isinstance(refused, Unauthorized) and refused.reason is ReasonCode.TOKEN_INACTIVE
    assert refused.token is not None and refused.token.token_type == "introspected"

    # The same strict claim checks as a JWT's; JWTs of this issuer still verified locally.
    idp.active["other-aud"] = _active(signer, aud="https://elsewhere.example/fhir")
    assert _refusal(guard, "other-aud").reason is ReasonCode.TOKEN_AUDIENCE_MISMATCH
    jwt_principal = guard.authenticate(f"Bearer {signer.token('svc', 'system/Patient.rs')}")
    assert jwt_principal.token_type == "jwt"
    before = idp.count("/introspect")
    assert _refusal(guard, "not b64token!").reason is ReasonCode.TOKEN_MALFORMED
    assert idp.count("/introspect") == before, "a misshapen token is never sent to the IdP"


@pytest.mark.parametrize("mode", ["down", "slow", "malformed"])
def test_an_introspection_endpoint_that_fails_fails_closed(idp: IdpStub, mode: str) -> None:
    signer, clock = _signer(idp), Clock()
    guard = _guard(_introspecting(idp, "all"), clock)
    token = signer.token("svc", "system/Patient.rs", 1800)
    idp.active[token] = _active(signer)
    assert guard.authenticate(f"Bearer {token}").token_type == "introspected"  # "all": JWTs too
    idp.modes = {"/introspect": mode}
    started = time.monotonic()
    refused = _refusal(guard, "opaque-2")
    assert isinstance(refused, ServiceUnavailable) and refused.status == 503
    assert refused.reason is ReasonCode.INTROSPECTION_FAILED
    assert time.monotonic() - started < 2.5, "bounded by the introspection timeout"
    assert "127.0.0.1" not in refused.diagnostics and "opaque" not in refused.diagnostics


def test_introspection_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        TrustedIssuer(issuer="https://a", introspection="opaque")  # no client credentials
    with pytest.raises(ValueError):
        TrustedIssuer(issuer="https://a", jwks_uri="https://a/certs", introspection="all",
                      introspection_client_id="c", introspection_client_secret="s")  # fmt: skip
    from api.settings import Settings

    two = [json.loads(_introspecting_json(name)) for name in ("https://a", "https://b")]
    with pytest.raises(ValueError):
        Settings(trusted_issuers=two)


def _introspecting_json(issuer: str) -> str:
    return json.dumps({
        "issuer": issuer, "introspection": "opaque",
        "introspection_client_id": "c", "introspection_client_secret": "s",
    })  # fmt: skip
