"""Checkpoint signing and verification built from Settings (shared by every runtime).

The embedded runtime runs a CheckpointRunner thread; the distributed one calls
`Checkpointer.run_once(now_us)` from one worker's timer (exactly one per store). The API
publishes the public keys and verifies with them, whichever process signs.
"""

import time
from typing import Any

from api.settings import Settings
from evidence.core.problems import VerificationReport
from evidence.store import EvidenceStore
from evidence.store.seal.checkpointer import Checkpointer, CheckpointRunner
from evidence.store.seal.signing import (
    Ed25519Signer,
    load_or_create_signer,
    published_jwks,
    signing_key_path,
    verifiers,
)
from evidence.store.verification import verify_store

DAY_US = 86_400_000_000
DEFAULT_RETENTION_DAYS = 6 * 365  # a lower bound of six calendar years


def checkpoint_signer(settings: Settings) -> Ed25519Signer:
    return load_or_create_signer(signing_key_path(settings.data_dir, settings.signing_key_file))


def checkpoint_jwks(settings: Settings, signer: Ed25519Signer) -> dict[str, Any]:
    path = signing_key_path(settings.data_dir, settings.signing_key_file)
    return published_jwks(path, signer)


def public_jwks(settings: Settings) -> dict[str, Any]:
    """The published keys, read without creating a key (for verifiers)."""
    path = signing_key_path(settings.data_dir, settings.signing_key_file)
    return published_jwks(path, load_or_create_signer(path) if path.exists() else None)


def build_checkpointer(
    settings: Settings, store: EvidenceStore, signer: Ed25519Signer
) -> Checkpointer:
    return Checkpointer(store, signer, heartbeat_s=settings.heartbeat_s)


def build_checkpoint_runner(
    settings: Settings, store: EvidenceStore, signer: Ed25519Signer
) -> CheckpointRunner:
    return CheckpointRunner(
        build_checkpointer(settings, store, signer), settings.checkpoint_interval_s
    )


def retention_floor_us(settings: Settings, now_us: int) -> int:
    """Evidence older than this may have expired lawfully; one day of margin on the TTL."""
    days = settings.retention_days or DEFAULT_RETENTION_DAYS
    return max(0, now_us - days * DAY_US + DAY_US)


def verify_evidence(
    settings: Settings, store: EvidenceStore, jwks: dict[str, Any], since_us: int, until_us: int
) -> VerificationReport:
    """verify_store with the published checkpoint keys and the retention horizon."""
    floor = retention_floor_us(settings, time.time_ns() // 1000)
    return verify_store(store, since_us, until_us, verifiers(jwks), floor)
