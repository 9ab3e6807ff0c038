"""Signed checkpoints: one producer's Merkle tree size and root, chained and signed (pure).

The signed body is text in the shape of a C2SP tlog checkpoint (origin, size, base64 root)
with three extension lines; every line ends with LF, UTF-8, no other white space:

    fhir-evidence/checkpoint/v1/<producer_id>
    <tree size, decimal>
    <root: standard base64 (with padding) of the 32-byte RFC 6962 tree hash>
    time <checkpoint time, microseconds since the epoch, UTC>
    head <hex event_hash of the last leaf (sequence = tree size); 64 zeros when empty>
    previous <hex SHA-256 of the previous checkpoint's body; 64 zeros for the first>

Leaf i of a producer's tree (0-based) is the event of sequence i + 1, and its leaf data are
the 32 raw bytes of that event's `event_hash` (hex-decoded): the leaf commits to the whole
sealed event, and an erased event stays provable from its recorded hash alone.
The signature is Ed25519 over exactly the body bytes; the key id is the RFC 7638 JWK
thumbprint of the public key. This module never signs or checks signatures itself: a
`Signer` and key-id-indexed check functions are passed in (the adapter holds the crypto).
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from evidence.core.chain import GENESIS_HASH

ORIGIN_PREFIX = "fhir-evidence/checkpoint/v1/"
NO_PREVIOUS = "0" * 64
_PRODUCER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_TIME = re.compile(r"-?(0|[1-9][0-9]{0,18})")

VerifyFn = Callable[[bytes, bytes], bool]  # (message, signature) -> valid


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    producer_id: str
    tree_size: int
    root: bytes
    time_us: int
    head: str = GENESIS_HASH
    previous: str = NO_PREVIOUS


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    body: bytes
    key_id: str
    signature: bytes

    @property
    def body_hash(self) -> str:
        return body_hash(self.body)


def encode_body(cp: Checkpoint) -> bytes:
    if not _PRODUCER.fullmatch(cp.producer_id):
        raise ValueError(f"producer id {cp.producer_id!r} cannot name a checkpoint origin")
    if cp.tree_size < 0 or len(cp.root) != 32:
        raise ValueError("a checkpoint needs a non-negative size and a 32-byte root")
    if not (_HEX64.fullmatch(cp.head) and _HEX64.fullmatch(cp.previous)):
        raise ValueError("head and previous are 64 lowercase hex digits")
    lines = (
        f"{ORIGIN_PREFIX}{cp.producer_id}",
        str(cp.tree_size),
        base64.b64encode(cp.root).decode("ascii"),
        f"time {cp.time_us}",
        f"head {cp.head}",
        f"previous {cp.previous}",
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def decode_body(body: bytes) -> Checkpoint:
    """Parse a body; ValueError unless it is exactly what `encode_body` would produce."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("a checkpoint body is UTF-8") from None
    lines = text.split("\n")
    if len(lines) != 7 or lines[6] != "" or not lines[0].startswith(ORIGIN_PREFIX):
        raise ValueError("not a fhir-evidence checkpoint body")
    if not (_SIZE.fullmatch(lines[1]) and lines[3].startswith("time ")):
        raise ValueError("malformed size or time line")
    if not _TIME.fullmatch(lines[3][5:]):
        raise ValueError("malformed time line")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise ValueError("the root is not base64") from None
    cp = Checkpoint(
        producer_id=lines[0][len(ORIGIN_PREFIX) :],
        tree_size=int(lines[1]),
        root=root,
        time_us=int(lines[3][5:]),
        head=lines[4].removeprefix("head "),
        previous=lines[5].removeprefix("previous "),
    )
    if encode_body(cp) != body:
        raise ValueError("the checkpoint body is not in canonical form")
    return cp


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> SignedCheckpoint:
    body = encode_body(cp)
    return SignedCheckpoint(cp, body, signer.key_id, signer.sign(body))


def signature_valid(
    body: bytes, key_id: str, signature: bytes, keys: Mapping[str, VerifyFn]
) -> bool:
    check = keys.get(key_id)
    return check is not None and check(body, signature)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def okp_jwk(public_key: bytes) -> dict[str, str]:
    """The public JWK (RFC 8037) of a raw 32-byte Ed25519 public key, with its `kid`."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_key)}
    return {**jwk, "kid": thumbprint(jwk), "alg": "EdDSA", "use": "sig"}


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an OKP key: the checkpoint key id."""
    members = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
