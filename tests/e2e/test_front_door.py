"""The front door, table-driven: hostile and broken access tokens over real HTTP.

Every row builds one request (Authorization header and/or URL) and states the contract's
answer: the status, and for refusals the reason code the evidence must carry. A refusal is
an OperationOutcome whose diagnostics do not say which check failed; 401 carries
`error="invalid_token"`, 403 `error="insufficient_scope"` with the scope that would grant it.
"""

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.e2e.helpers import assert_outcome, evidence_for
from tests.support import JwksServer, ServerProcess, TestIssuer, b64url, raw_jwt

PATIENT = "/fhir/Patient/pat-00001"
READ_PATIENT = "system/Patient.rs"
AT_JWT = {"typ": "at+jwt"}
# Words that would tell a caller which check refused the token (an oracle for attackers).
ORACLE_WORDS = ("expired", "audience", "signature", "issuer", "kid", "alg")
SCOPE_ATTR = re.compile(r'scope="([^"]+)"')


@dataclass
class Attacker:
    """Keys nobody trusts, and a JWKS server on loopback publishing one (never to be asked)."""

    key: rsa.RSAPrivateKey
    jwks: JwksServer
    ec_key: ec.EllipticCurvePrivateKey

    def public_jwk(self, kid: str) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=kid, use="sig", alg="RS256")
        return dict(jwk)

    def certificate_b64(self) -> str:
        """A self-signed certificate for the attacker's EC key, DER in standard base64 (x5c);
        EC keeps the JOSE header small enough not to be refused for its size alone."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.test.example")])
        start = datetime.now(tz=UTC) - timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ec_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=30))
            .sign(self.ec_key, hashes.SHA256())
        )
        return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@dataclass
class Kit:
    issuer: TestIssuer
    attacker: Attacker


@dataclass(frozen=True)
class Sent:
    """What one row sends: path (with any query) and headers; `jti` the token carried."""

    path: str
    headers: dict[str, str]
    jti: str | None = None
    token: str | None = None


Check = Callable[[Kit, httpx.Response, dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Kit], Sent]
    status: int
    reason: str | None = None
    check: Check | None = None


# ---------------------------------------------------------------- request builders


def _claims(kit: Kit, **overrides: Any) -> dict[str, Any]:
    """Valid claims for reading the Patient; `None` as an override removes the claim."""
    claims = kit.issuer.claims("front-door", READ_PATIENT)
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _bearer(token: str, claims: dict[str, Any] | None, path: str = PATIENT) -> Sent:
    jti = claims.get("jti") if claims else None
    return Sent(path, {"Authorization": f"Bearer {token}"}, jti, token)


def signed(alg: str = "RS256", path: str = PATIENT, **overrides: Any) -> Callable[[Kit], Sent]:
    """A token signed by the trusted issuer with its key for `alg` (kid rsa-1/ec-1/ed-1)."""

    def build(kit: Kit) -> Sent:
        claims = _claims(kit, **overrides)
        _key, kid = kit.issuer.key_for(alg)
        return _bearer(kit.issuer.sign(claims, alg, kid=kid, **AT_JWT), claims, path)

    return build


def with_headers(alg: str = "RS256", **headers: Any) -> Callable[[Kit], Sent]:
    """Signed by the trusted issuer, with these JOSE header fields (kid, typ, ...)."""

    def build(kit: Kit) -> Sent:
        claims = _claims(kit)
        return _bearer(kit.issuer.sign(claims, alg, **{**AT_JWT, **headers}), claims)

    return build


def scoped(scope: str, path: str = PATIENT) -> Callable[[Kit], Sent]:
    def build(kit: Kit) -> Sent:
        claims = _claims(kit, scope=scope)
        return _bearer(kit.issuer.sign(claims, "RS256", **AT_JWT), claims, path)

    return build


def no_header(kit: Kit) -> Sent:
    return Sent(PATIENT, {})


def token_in_query_only(kit: Kit) -> Sent:
    token = kit.issuer.token("front-door", READ_PATIENT)
    return Sent(f"{PATIENT}?access_token={token}", {}, None, token)


def token_in_header_and_query(kit: Kit) -> Sent:
    token = kit.issuer.token("front-door", READ_PATIENT)
    return Sent(
        f"{PATIENT}?access_token={token}", {"Authorization": f"Bearer {token}"}, None, token
    )


def basic_scheme(kit: Kit) -> Sent:
    return Sent(PATIENT, {"Authorization": "Basic ZnJvbnQtZG9vcjpzZWNyZXQ="})


def empty_bearer(kit: Kit) -> Sent:
    return Sent(PATIENT, {"Authorization": "Bearer"})  # HTTP clients strip a trailing space


def two_segments(kit: Kit) -> Sent:
    token = kit.issuer.token("front-door", READ_PATIENT)
    return Sent(PATIENT, {"Authorization": f"Bearer {token.rsplit('.', 1)[0]}"}, None, token)


def alg_none(kit: Kit) -> Sent:
    claims = _claims(kit)
    header = json.dumps({"alg": "none", "typ": "at+jwt", "kid": "rsa-1"})
    return _bearer(raw_jwt(header, json.dumps(claims)), claims)


def hs256_with_public_pem(kit: Kit) -> Sent:
    """Key confusion: the issuer's RSA public key PEM used as an HMAC secret."""
    claims = _claims(kit)
    pem = kit.issuer.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"})
    unsigned = raw_jwt(header, json.dumps(claims)).rstrip(".")
    mac = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
    return _bearer(f"{unsigned}.{b64url(mac)}", claims)


def psychic_signature(kit: Kit) -> Sent:
    """CVE-2022-21449: an ECDSA signature with r = s = 0."""
    claims = _claims(kit)
    header = json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": "ec-1"})
    return _bearer(raw_jwt(header, json.dumps(claims), b"\x00" * 64), claims)


def attacker_signed(alg: str = "RS256", **headers: Any) -> Callable[[Kit], Sent]:
    """Signed by the attacker's RSA (or, for ES256, EC) key; header fields may be callables
    of the kit."""

    def build(kit: Kit) -> Sent:
        claims = _claims(kit)
        fields = {k: v(kit) if callable(v) else v for k, v in headers.items()}
        key = kit.attacker.ec_key if alg == "ES256" else kit.attacker.key
        token = jwt.encode(claims, key, alg, headers={**AT_JWT, **fields})
        return _bearer(token, claims)

    return build


def tampered_payload(kit: Kit) -> Sent:
    claims = _claims(kit)
    header, _payload, signature = kit.issuer.sign(claims, "RS256", **AT_JWT).split(".")
    forged = b64url(json.dumps({**claims, "sub": "someone-else"}).encode())
    return _bearer(f"{header}.{forged}.{signature}", claims)


def duplicated_sub(kit: Kit) -> Sent:
    claims = _claims(kit, sub="a")
    text = json.dumps(claims, separators=(",", ":"))
    payload = text[:-1] + ',"sub":"b"}'
    header = json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"})
    return _bearer(kit.issuer.sign_raw(header, payload, "RS256"), claims)


def timed(**offsets: int | None) -> Callable[[Kit], Sent]:
    """Claims `exp`/`iat`/`nbf` at these offsets from now (None: leave the claim out)."""

    def build(kit: Kit) -> Sent:
        now = int(time.time())
        overrides = {k: (None if v is None else now + v) for k, v in offsets.items()}
        claims = _claims(kit, **overrides)
        return _bearer(kit.issuer.sign(claims, "RS256", **AT_JWT), claims)

    return build


def oversized(kit: Kit) -> Sent:
    claims = _claims(kit, padding="x" * 200_000)
    token = kit.issuer.sign(claims, "RS256", **AT_JWT)
    assert len(token) > 200_000
    return Sent(PATIENT, {"Authorization": f"Bearer {token}"}, None, token)


# ---------------------------------------------------------------- extra checks


def jwks_never_fetched(kit: Kit, response: httpx.Response, evidence: dict[str, Any]) -> None:
    assert kit.attacker.jwks.hits == 0, (
        f"server followed a header URL: {kit.attacker.jwks.requests}"
    )


def purpose_recorded(kit: Kit, response: httpx.Response, evidence: dict[str, Any]) -> None:
    assert evidence["purpose_of_use"] == "TREAT"


def scope_names(resource_type: str) -> Check:
    def check(kit: Kit, response: httpx.Response, evidence: dict[str, Any]) -> None:
        match = SCOPE_ATTR.search(response.headers["www-authenticate"])
        assert match and resource_type in match.group(1), response.headers["www-authenticate"]

    return check


# ---------------------------------------------------------------- the table

T = "token."
CASES = [
    # --- where the token is and how it is presented
    Case("01-no-authorization-header", no_header, 401, "token.missing"),
    Case("02-token-in-query-only", token_in_query_only, 401, T + "malformed"),
    Case("03-token-in-header-and-query", token_in_header_and_query, 401, T + "malformed"),
    Case("04-basic-scheme", basic_scheme, 401, T + "malformed"),
    Case("x-empty-bearer", empty_bearer, 401, T + "malformed"),
    Case("x-two-segments", two_segments, 401, T + "malformed"),
    # --- algorithm attacks
    Case("05-alg-none", alg_none, 401, T + "alg_not_allowed"),
    Case("06-hs256-public-key-as-secret", hs256_with_public_pem, 401, T + "alg_not_allowed"),
    Case("07-rs256-with-ec-kid", with_headers("RS256", kid="ec-1"), 401, T + "alg_not_allowed"),
    Case("x-rs512", with_headers("RS512", kid="rsa-1"), 401, T + "alg_not_allowed"),
    Case("08-es256-psychic-signature", psychic_signature, 401, T + "signature_invalid"),
    # --- key selection attacks: embedded or remote keys are never trusted
    Case(
        "09-embedded-jwk",
        attacker_signed(kid="rsa-1", jwk=lambda kit: kit.attacker.public_jwk("rsa-1")),
        401,
        T + "signature_invalid",
    ),
    Case(
        "x-embedded-jwk-no-kid",
        attacker_signed(jwk=lambda kit: kit.attacker.public_jwk("attacker")),
        401,
        T + "signature_invalid",
    ),
    Case(
        "10-jku-loopback",
        attacker_signed(kid="attacker", jku=lambda kit: kit.attacker.jwks.url),
        401,
        T + "signature_invalid",
        jwks_never_fetched,
    ),
    Case(
        "x-x5u-loopback",
        attacker_signed(kid="attacker", x5u=lambda kit: kit.attacker.jwks.url),
        401,
        T + "signature_invalid",
        jwks_never_fetched,
    ),
    Case(
        "x-x5c-self-signed",
        attacker_signed("ES256", kid="ec-1", x5c=lambda kit: [kit.attacker.certificate_b64()]),
        401,
        T + "signature_invalid",
    ),
    Case(
        "11-kid-path-traversal",
        attacker_signed(kid="../../../../etc/passwd"),
        401,
        T + "signature_invalid",
    ),
    Case("12-unknown-kid", with_headers("RS256", kid="rsa-999"), 401, T + "signature_invalid"),
    Case("13-payload-altered", tampered_payload, 401, T + "signature_invalid"),
    # --- claims
    Case("14-untrusted-issuer", signed(iss="https://evil.example"), 401, T + "issuer_untrusted"),
    Case(
        "15-wrong-audience", signed(aud="https://other.example/fhir"), 401, T + "audience_mismatch"
    ),
    Case("16-expired-31s-ago", timed(iat=-300, exp=-31), 401, T + "expired"),
    Case("17-expired-29s-ago-in-leeway", timed(iat=-300, exp=-29), 200),
    Case("18-nbf-120s-ahead", timed(nbf=120), 401, T + "not_yet_valid"),
    Case("19-iat-120s-ahead", timed(iat=120, exp=420), 401, T + "not_yet_valid"),
    Case("20-lifetime-7200s", timed(iat=0, exp=7200), 401, T + "lifetime_too_long"),
    Case("21-missing-exp", timed(exp=None), 401, T + "malformed"),
    Case("22-missing-iat", timed(iat=None), 401, T + "malformed"),
    Case("23-missing-sub", signed(sub=None), 401, T + "malformed"),
    Case("x-exp-as-string", signed(exp="9999999999"), 401, T + "malformed"),
    Case("24-duplicated-sub-claim", duplicated_sub, 401, T + "malformed"),
    Case("25-scope-as-list", signed(scope=[READ_PATIENT]), 401, T + "malformed"),
    Case("26-token-200kb", oversized, 401, T + "malformed"),
    Case("27-typ-id-token", with_headers(typ="id_token", kid="rsa-1"), 401, T + "malformed"),
    Case("27-typ-JWT", with_headers(typ="JWT", kid="rsa-1"), 200),
    Case("27-typ-at+jwt", with_headers(typ="at+jwt", kid="rsa-1"), 200),
    Case("28-purpose-SNOOPING", signed(purpose_of_use="SNOOPING"), 401, T + "malformed"),
    Case("28-purpose-TREAT", signed(purpose_of_use="TREAT"), 200, None, purpose_recorded),
    # --- scopes
    Case(
        "29-scope-for-other-type",
        scoped("system/Practitioner.rs"),
        403,
        "scope.insufficient",
        scope_names("Patient"),
    ),
    Case(
        "30-wildcard-never-covers-audit",
        scoped("system/*.cruds", "/audit/principals/x/accesses"),
        403,
        "scope.insufficient",
        scope_names("AuditEvent"),
    ),
    Case(
        "30-wildcard-never-covers-auditevent-view",
        scoped("system/*.cruds", "/fhir/AuditEvent"),
        403,
        "scope.insufficient",
        scope_names("AuditEvent"),
    ),
    # --- every allowed algorithm works
    Case("31-rs256", signed("RS256"), 200),
    Case("31-es256", signed("ES256"), 200),
    Case("31-ps256", signed("PS256"), 200),
    Case("31-eddsa", signed("EdDSA"), 200),
]
# Rows whose request carries no parseable JWT with a jti in the Authorization header, or
# that are refused before the token is looked at (in the URL, or far too large).
NO_JTI = {
    no_header,
    token_in_query_only,
    token_in_header_and_query,
    basic_scheme,
    empty_bearer,
    two_segments,
    oversized,
}
REFUSED_WITH_JTI = [c for c in CASES if c.status == 401 and c.build not in NO_JTI]


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    jwks = JwksServer()
    attacker = Attacker(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        jwks,
        ec.generate_private_key(ec.SECP256R1()),
    )
    jwks.publish({"keys": [attacker.public_jwk("attacker")]})
    # The jku/x5u rows count on this server answering, so prove it does, then start counting.
    assert httpx.get(jwks.url, timeout=5).json()["keys"] and jwks.hits == 1
    jwks.reset()
    yield attacker
    jwks.stop()


@pytest.fixture
def kit(issuer: TestIssuer, server: ServerProcess, attacker: Attacker) -> Kit:
    assert issuer.audience, "the server fixture sets the expected audience"
    return Kit(issuer, attacker)


def _send(client: httpx.Client, sent: Sent) -> httpx.Response:
    return client.get(sent.path, headers=sent.headers)


def _assert_refusal(response: httpx.Response, status: int) -> None:
    assert_outcome(response, status)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.lower().startswith("bearer"), challenge
    if status == 401:
        assert 'error="invalid_token"' in challenge, challenge
        for word in ORACLE_WORDS:
            assert word not in response.text.lower(), f"{word!r} disclosed: {response.text}"
            assert word not in challenge.lower(), f"{word!r} disclosed: {challenge}"
    else:
        assert 'error="insufficient_scope"' in challenge, challenge
        assert SCOPE_ATTR.search(challenge), f"no scope attribute in {challenge}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_front_door(
    client: httpx.Client, kit: Kit, auditor_headers: dict[str, str], case: Case
) -> None:
    sent = case.build(kit)
    response = _send(client, sent)
    assert response.status_code == case.status, (response.status_code, response.text[:300])
    if case.status >= 400:
        _assert_refusal(response, case.status)
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    assert evidence["status"] == case.status
    if case.status >= 400:
        assert evidence["decision"] == "deny"
        assert case.reason in evidence["reasons"], evidence["reasons"]
    else:
        assert evidence["decision"] == "allow"
        assert evidence["principal"]["sub"] == "front-door"
    if case.check is not None:
        case.check(kit, response, evidence)


@pytest.mark.parametrize("case", REFUSED_WITH_JTI, ids=[c.name for c in REFUSED_WITH_JTI])
def test_refused_token_evidence_holds_jti_hash_not_jti(
    client: httpx.Client, kit: Kit, auditor_headers: dict[str, str], case: Case
) -> None:
    sent = case.build(kit)
    assert sent.jti
    response = _send(client, sent)
    assert response.status_code == 401
    evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
    jti_hash = evidence["token"]["jti_hash"]
    assert jti_hash, "refused token's jti not recorded (as a hash)"
    assert jti_hash != sent.jti and sent.jti not in json.dumps(evidence)


def test_refused_tokens_never_reach_the_log(
    client: httpx.Client, kit: Kit, server: ServerProcess, auditor_headers: dict[str, str]
) -> None:
    secrets: list[str] = []
    last = ""
    for case in CASES:
        sent = case.build(kit)
        response = _send(client, sent)
        last = response.headers["x-request-id"]
        token = sent.token or sent.headers.get("Authorization", " ").partition(" ")[2]
        if token:
            secrets.append(token)
    evidence_for(client, auditor_headers, last)  # everything before it has been handled
    time.sleep(0.2)
    log = server.log_text()
    for token in secrets:
        assert token not in log
        for segment in token.split("."):
            if len(segment) >= 16:
                assert segment not in log, "part of a token found in the server log"


def test_valid_token_served_again_from_cache(
    client: httpx.Client, kit: Kit, auditor_headers: dict[str, str]
) -> None:
    headers = signed("RS256")(kit).headers
    first = client.get(PATIENT, headers=headers)
    second = client.get(PATIENT, headers=headers)
    assert first.status_code == 200 and second.status_code == 200
    assert first.json() == second.json()
    for response in (first, second):
        evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
        assert evidence["decision"] == "allow"
