"""Ed25519 for checkpoints (adapter over `cryptography`) and the signing key file.

The private key lives outside the evidence store: a PKCS#8 PEM file created on first start
with mode 0600 (the data dir's `keys/checkpoint-signing-key.pem`, or
FHIR_EVIDENCE_SIGNING_KEY_FILE). Whoever can rewrite the store cannot re-sign checkpoints.
Every public key a key file has held is remembered next to it (`<file>.jwks.json`), so
checkpoints signed before a key rotation keep verifying.
"""

import base64
import binascii
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from evidence.core.seal.checkpoint import VerifyFn, okp_jwk

log = structlog.get_logger("fhir_evidence.signing")
SIGNING_KEY_FILE = "keys/checkpoint-signing-key.pem"
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Ed25519Signer:
    """The `Signer` of evidence.core.seal.checkpoint: key id = RFC 7638 thumbprint."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(*_RAW)
        self.jwk = okp_jwk(self.public_key)

    @property
    def key_id(self) -> str:
        return self.jwk["kid"]

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def signing_key_path(data_dir: Path, configured: Path | None) -> Path:
    return configured if configured is not None else data_dir / SIGNING_KEY_FILE


def load_or_create_signer(path: Path) -> Ed25519Signer:
    """The key in `path`, created (0600, never overwritten) when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        log.info("checkpoint signing key created", path=str(path))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the checkpoint signing key must be an Ed25519 key")
    signer = Ed25519Signer(key)
    _remember(path, signer.jwk)
    return signer


def _history_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".jwks.json")


def _read_jwks(path: Path) -> list[dict[str, Any]]:
    try:
        keys = json.loads(path.read_text()).get("keys", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [k for k in keys if isinstance(k, dict)]


def _remember(key_path: Path, jwk: dict[str, str]) -> None:
    history = _history_path(key_path)
    known = _read_jwks(history)
    if any(k.get("kid") == jwk["kid"] for k in known):
        return
    try:
        history.write_text(json.dumps({"keys": [*known, jwk]}, indent=1))
    except OSError:  # e.g. a read-only secret mount: the current key is still published
        log.warning("cannot record the checkpoint public key", path=str(history))


def published_jwks(key_path: Path, current: Ed25519Signer | None = None) -> dict[str, Any]:
    """Every checkpoint public key of this key file (current first), as a JWKS."""
    keys = [current.jwk] if current is not None else []
    for jwk in _read_jwks(_history_path(key_path)):
        if all(jwk.get("kid") != k["kid"] for k in keys):
            keys.append(jwk)
    return {"keys": keys}


def verifiers(jwks: Mapping[str, Any]) -> dict[str, VerifyFn]:
    """kid -> signature check, for the OKP/Ed25519 keys of a JWKS (others are ignored)."""
    out: dict[str, VerifyFn] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        raw = _b64url_decode(str(jwk.get("x", "")))
        if raw is None or len(raw) != 32:
            continue
        expected = okp_jwk(raw)["kid"]
        out[expected] = _check(Ed25519PublicKey.from_public_bytes(raw))
    return out


def _check(key: Ed25519PublicKey) -> VerifyFn:
    def check(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return check


def _b64url_decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def signer_from_seed(seed: Sequence[int] | bytes) -> Ed25519Signer:
    """A deterministic signer (tests and golden vectors)."""
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(bytes(seed)))
