"""Secrets kept in the data dir: the pseudonymisation key (generated once, mode 0600)."""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from api.settings import Settings

HASH_KEY_FILE = "keys/hash-key"
HASH_KEY_VERSION = 1


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))


def hash_key(settings: Settings) -> bytes:
    """FHIR_EVIDENCE_HASH_KEY when set, else the data dir's key (created on first use)."""
    if settings.hash_key:
        return settings.hash_key.encode("utf-8")
    path = settings.data_dir / HASH_KEY_FILE
    _create_secret(path)
    return bytes.fromhex(path.read_text().strip())


def derived_key(master: bytes, purpose: str) -> bytes:
    """An independent key for another purpose (e.g. paging cursors), derived from `master`."""
    return hmac.digest(master, f"fhir-evidence/{purpose}".encode(), hashlib.sha256)
