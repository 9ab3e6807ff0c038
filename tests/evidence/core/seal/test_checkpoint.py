"""Checkpoint bodies: the exact signed bytes (golden), strict parsing, key ids (RFC 7638)."""

import hashlib

import pytest

from evidence.core.merkle import EMPTY_ROOT
from evidence.core.seal.checkpoint import (
    NO_PREVIOUS,
    Checkpoint,
    body_hash,
    decode_body,
    encode_body,
    okp_jwk,
    sign_checkpoint,
    signature_valid,
    thumbprint,
)

CHECKPOINT = Checkpoint(
    producer_id="api-0123456789ab",
    tree_size=70,
    root=hashlib.sha256(b"root").digest(),
    time_us=1_735_689_600_123_456,
    head="ab" * 32,
    previous="cd" * 32,
)
GOLDEN_BODY = (
    b"fhir-evidence/checkpoint/v1/api-0123456789ab\n"
    b"70\n"
    b"SBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n"
    b"time 1735689600123456\n"
    b"head abababababababababababababababababababababababababababababababab\n"
    b"previous cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\n"
)
GOLDEN_BODY_HASH = "dc130de41c4b7b35f1eb3125b9afd3b2121434df7d55ab5e36ac455be16f4f9a"


def test_golden_body() -> None:
    assert encode_body(CHECKPOINT) == GOLDEN_BODY
    assert body_hash(GOLDEN_BODY) == GOLDEN_BODY_HASH
    assert decode_body(GOLDEN_BODY) == CHECKPOINT


def test_empty_tree_checkpoint() -> None:
    empty = Checkpoint("api-x", 0, EMPTY_ROOT, 0)
    body = encode_body(empty)
    assert body.split(b"\n")[1:3] == [b"0", b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]
    assert empty.previous == NO_PREVIOUS and decode_body(body) == empty


@pytest.mark.parametrize(
    "body",
    [
        GOLDEN_BODY.replace(b"\n70\n", b"\n070\n"),
        GOLDEN_BODY.replace(b"time ", b"time  "),
        GOLDEN_BODY + b"extra\n",
        GOLDEN_BODY[:-1],
        GOLDEN_BODY.replace(b"head ab", b"head AB"),
        GOLDEN_BODY.replace(b"SBNJTRN", b"SBNJTR*"),
        GOLDEN_BODY.replace(b"=\n", b"\n"),
        GOLDEN_BODY.replace(b"checkpoint/v1", b"checkpoint/v2"),
        GOLDEN_BODY.replace(b"\n", b"\r\n"),
        b"\xff" + GOLDEN_BODY,
    ],
)
def test_only_the_canonical_form_parses(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_body(body)


@pytest.mark.parametrize(
    "bad",
    [
        {"producer_id": "two\nlines"},
        {"producer_id": ""},
        {"root": b"short"},
        {"tree_size": -1},
        {"head": "xyz"},
        {"previous": "AB" * 32},
    ],
)
def test_encoding_refuses_what_could_not_be_parsed_back(bad: dict[str, object]) -> None:
    values = {
        "producer_id": CHECKPOINT.producer_id,
        "tree_size": CHECKPOINT.tree_size,
        "root": CHECKPOINT.root,
        "time_us": CHECKPOINT.time_us,
        "head": CHECKPOINT.head,
        "previous": CHECKPOINT.previous,
        **bad,
    }
    with pytest.raises(ValueError):
        encode_body(Checkpoint(**values))  # type: ignore[arg-type]


def test_rfc8037_thumbprint() -> None:
    """RFC 8037 appendix A.3: the JWK thumbprint of the example Ed25519 public key."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    raw = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert okp_jwk(raw)["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert okp_jwk(raw)["x"] == jwk["x"]


class FakeSigner:
    key_id = "k1"

    def sign(self, message: bytes) -> bytes:
        return hashlib.sha256(b"sig" + message).digest()


def test_signing_goes_through_the_signer_passed_in() -> None:
    signed = sign_checkpoint(CHECKPOINT, FakeSigner())
    assert signed.body == GOLDEN_BODY and signed.key_id == "k1"
    assert signed.body_hash == GOLDEN_BODY_HASH

    def check(message: bytes, signature: bytes) -> bool:
        return signature == hashlib.sha256(b"sig" + message).digest()

    assert signature_valid(signed.body, "k1", signed.signature, {"k1": check})
    assert not signature_valid(signed.body + b"x", "k1", signed.signature, {"k1": check})
    assert not signature_valid(signed.body, "k2", signed.signature, {"k1": check})
