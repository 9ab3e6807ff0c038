"""The development issuer: a key pair generated once into the data dir (0600), a JWKS,
and token minting for `fhir-evidence token`. Only on while no trusted issuer is configured,
and `serve` starts with it only on a loopback address (or with FHIR_EVIDENCE_DEV_MODE=true,
unsafe; see api.boot.exposure).
"""

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.settings import Settings

KEY_FILE = "keys/dev-issuer-rs256.pem"
KID = "dev-1"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_key(data_dir: Path) -> rsa.RSAPrivateKey:
    path = data_dir / KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process won the race
            _write_private(path, pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("the development issuer key is not an RSA key")
    return loaded


def public_jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, use="sig", alg="RS256")
    return {"keys": [jwk]}


def mint_token(
    settings: Settings,
    sub: str,
    scope: str,
    ttl_s: int = 300,
    patient: str = "",
    fhir_user: str = "",
    purpose: str = "",
    clearance: list[str] | None = None,
    client_id: str = "fhir-evidence-cli",
) -> str:
    key = load_or_create_key(settings.data_dir)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.dev_issuer_url,
        "aud": settings.fhir_base,
        "sub": sub,
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "scope": scope,
    }
    optional = {"patient": patient, "fhirUser": fhir_user, "purpose_of_use": purpose}
    claims.update({name: value for name, value in optional.items() if value})
    if clearance:
        claims["sensitivity_clearance"] = clearance
    headers = {"kid": KID, "typ": "at+jwt"}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


@dataclass(frozen=True, slots=True)
class DevIssuer:
    """The development issuer while it is on (no trusted issuer configured): its public
    keys and token minting with its key."""

    settings: Settings
    jwks: dict[str, Any]

    def mint(self, sub: str, scope: str, ttl_s: int, client_id: str) -> str:
        return mint_token(self.settings, sub, scope, ttl_s, client_id=client_id)
