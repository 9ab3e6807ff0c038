"""The pseudonymisation key: FHIR_EVIDENCE_HASH_KEY, else generated once and kept in the data
dir (mode 0600) or, with the FHIR data in PostgreSQL, in that database, so that every replica
and worker sharing it agrees on pseudonyms and on the keys derived from it (paging cursors)."""

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
    """FHIR_EVIDENCE_HASH_KEY when set, else the shared or the data dir's key (created on
    first use)."""
    if settings.hash_key:
        return settings.hash_key.encode("utf-8")
    if settings.fhir_store_url:
        return _shared_key(settings.fhir_store_url)
    path = settings.data_dir / HASH_KEY_FILE
    _create_secret(path)
    return bytes.fromhex(path.read_text().strip())


def derived_key(master: bytes, purpose: str) -> bytes:
    """An independent key for another purpose (e.g. paging cursors), derived from `master`."""
    return hmac.digest(master, f"fhir-evidence/{purpose}".encode(), hashlib.sha256)


def _shared_key(dsn: str) -> bytes:
    from api.data.postgres.repository import PostgresRepository

    store = PostgresRepository(dsn, min_size=1, max_size=1)
    try:
        return store.shared_secret("hash-key/v1", lambda: secrets.token_bytes(32))
    finally:
        store.close()
