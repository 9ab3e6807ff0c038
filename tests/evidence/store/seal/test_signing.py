"""The Ed25519 adapter: golden signature, key file created once with mode 0600, the public
keys published as a JWKS (kept across a rotation), and verifiers built from a JWKS."""

import stat
from pathlib import Path

from evidence.core.seal.checkpoint import sign_checkpoint, signature_valid
from evidence.store.seal.signing import (
    load_or_create_signer,
    published_jwks,
    signer_from_seed,
    signing_key_path,
    verifiers,
)
from tests.evidence.core.seal.test_checkpoint import CHECKPOINT, GOLDEN_BODY

SEED = bytes(range(32))
GOLDEN_KID = "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y"
GOLDEN_SIGNATURE = (
    "6c3af3d65f2890d83349c8610333736c20063555a5bdb71e9d9ffdef96be52cf"
    "f8edd2422bdd9b3293e59e440c6778b367150ab42ea902e30847142fc7657a0a"
)


def test_golden_signature() -> None:
    signer = signer_from_seed(SEED)
    assert signer.key_id == GOLDEN_KID
    assert signer.jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
        "kid": GOLDEN_KID,
        "alg": "EdDSA",
        "use": "sig",
    }
    signed = sign_checkpoint(CHECKPOINT, signer)
    assert signed.body == GOLDEN_BODY
    assert signed.signature.hex() == GOLDEN_SIGNATURE
    keys = verifiers({"keys": [signer.jwk]})
    assert signature_valid(signed.body, GOLDEN_KID, signed.signature, keys)
    assert not signature_valid(signed.body.replace(b"70", b"71"), GOLDEN_KID,
                               signed.signature, keys)  # fmt: skip


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = signing_key_path(tmp_path, None)
    assert path == tmp_path / "keys" / "checkpoint-signing-key.pem"
    first = load_or_create_signer(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_signer(path)
    assert again.key_id == first.key_id
    assert published_jwks(path, again) == {"keys": [first.jwk]}


def test_rotation_keeps_old_public_keys_published(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    old = load_or_create_signer(path)
    path.unlink()
    new = load_or_create_signer(path)
    assert new.key_id != old.key_id
    jwks = published_jwks(path, new)
    assert [k["kid"] for k in jwks["keys"]] == [new.key_id, old.key_id]
    assert set(verifiers(jwks)) == {new.key_id, old.key_id}


def test_verifiers_trust_the_key_not_the_claimed_kid() -> None:
    jwk = {**signer_from_seed(SEED).jwk, "kid": "someone-else"}
    other = {"kty": "RSA", "n": "x", "e": "AQAB", "kid": "rsa"}
    broken = {"kty": "OKP", "crv": "Ed25519", "x": "!!", "kid": "bad"}
    assert set(verifiers({"keys": [jwk, other, broken]})) == {GOLDEN_KID}
