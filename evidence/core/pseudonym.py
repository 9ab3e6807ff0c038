"""Keyed pseudonyms: HMAC-SHA256 of an identifier under a versioned secret key."""

import hashlib
import hmac
from dataclasses import dataclass, field

PSEUDONYM_HEX_CHARS = 32  # 128 bits: collision-free at any realistic volume


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes = field(repr=False)
    key_version: int = 1
    _base: "hmac.HMAC" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) < 16:
            raise ValueError("the pseudonymisation key needs at least 16 bytes")
        object.__setattr__(self, "_base", hmac.new(self.key, digestmod=hashlib.sha256))

    def pseudonym(self, kind: str, value: str) -> str:
        """The keyed hash of `value` in the namespace `kind` (e.g. "Patient")."""
        mac = self._base.copy()
        mac.update(kind.encode("utf-8") + b"\x00" + value.encode("utf-8"))
        return mac.hexdigest()[:PSEUDONYM_HEX_CHARS]

    def patient(self, patient_id: str) -> str:
        return self.pseudonym("Patient", patient_id)

    def client_address(self, address: str) -> str:
        """A client network address (its recorded form), in a namespace of its own."""
        return self.pseudonym("ip", address)

    def reference(self, reference: str) -> str:
        """A "Type/id" reference becomes "Type/<hash>": the type stays readable."""
        rtype, _, rid = reference.partition("/")
        if not rid:
            return self.pseudonym("", reference)
        return f"{rtype}/{self.pseudonym(rtype, rid)}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
