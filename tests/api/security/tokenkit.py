"""Keys, trusted-issuer maps and a token minter for the pure token tests (fixed clock)."""

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from api.access.issuers import keys_from_jwks
from api.security.tokens import TrustedKeys
from tests.support import TestIssuer

NOW = 1_750_000_000
ISSUER = "https://issuer.test.example"
AUDIENCE = "https://fhir.test.example/fhir"
ALL_ALGS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
DROP = object()  # a claim or header value meaning "leave this one out"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_json(value: Any) -> str:
    return b64(json.dumps(value).encode())


@dataclass
class Keyring:
    """The trusted issuer's RSA, EC and Ed25519 keys, plus an attacker's RSA key."""

    issuer: TestIssuer = field(default_factory=lambda: TestIssuer(issuer=ISSUER))
    ed_key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    attacker: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def rsa_key(self) -> rsa.RSAPrivateKey:
        return self.issuer.rsa_key

    @property
    def ec_key(self) -> ec.EllipticCurvePrivateKey:
        return self.issuer.ec_key

    def public_keys(self) -> dict[str, Any]:
        """kid -> public key, from the issuer's published JWKS plus the Ed25519 key."""
        keys = keys_from_jwks(self.issuer.jwks())
        keys["ed-1"] = self.ed_key.public_key()
        return keys

    def trusted(
        self,
        algorithms: frozenset[str] = ALL_ALGS,
        audience: str = AUDIENCE,
        keys: dict[str, Any] | None = None,
    ) -> dict[str, TrustedKeys]:
        chosen = self.public_keys() if keys is None else keys
        return {ISSUER: TrustedKeys(ISSUER, audience, algorithms, chosen)}

    def key_for(self, alg: str) -> tuple[Any, str]:
        if alg.startswith(("RS", "PS")):
            return self.rsa_key, "rsa-1"
        if alg.startswith("ES"):
            return self.ec_key, "ec-1"
        return self.ed_key, "ed-1"

    def mint(
        self,
        alg: str = "RS256",
        key: Any = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed token; `claims` and `headers` override the defaults, DROP removes one."""
        default_key, default_kid = self.key_for(alg)
        header: dict[str, Any] = {"alg": alg, "typ": "at+jwt", "kid": default_kid}
        header.update(headers or {})
        payload = base_claims()
        payload.update(claims)
        return sign_raw(
            {k: v for k, v in header.items() if v is not DROP},
            json.dumps({k: v for k, v in payload.items() if v is not DROP}).encode(),
            default_key if key is None else key,
            alg,
        )


def sign_raw(header: dict[str, Any], payload: bytes, key: Any, alg: str) -> str:
    """Sign exactly this header and payload with `alg` (PyJWT's checks on headers bypassed)."""
    signing_input = f"{b64_json(header)}.{b64(payload)}"
    algorithm = jwt.algorithms.get_default_algorithms()[alg]
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(key))
    return f"{signing_input}.{b64(signature)}"


def base_claims() -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": NOW - 10,
        "exp": NOW + 290,
        "jti": "jti-1",
        "client_id": "client-1",
        "scope": "patient/Observation.rs",
    }


def resign_payload(token: str, payload: bytes) -> str:
    """Swap in another payload while keeping the original header and signature."""
    header, _, signature = token.split(".")
    return f"{header}.{b64(payload)}.{signature}"
