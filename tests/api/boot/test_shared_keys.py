"""Replicas on one PostgreSQL without FHIR_EVIDENCE_HASH_KEY agree on the pseudonymisation
key (kept in that database), hence on pseudonyms and on paging-cursor keys."""

from pathlib import Path

import pytest

from api.boot.keys import derived_key, hash_key
from api.settings import Settings

pytestmark = pytest.mark.postgres


def test_replicas_without_a_configured_key_share_one(
    postgres_database: str, tmp_path: Path
) -> None:
    a = Settings(data_dir=tmp_path / "a", fhir_store_url=postgres_database)
    b = Settings(data_dir=tmp_path / "b", fhir_store_url=postgres_database)
    key = hash_key(a)
    assert len(key) == 32 and hash_key(b) == key == hash_key(a)
    assert derived_key(hash_key(b), "cursor/v1") == derived_key(key, "cursor/v1")
    assert not (tmp_path / "a" / "keys").exists()  # nothing per replica


def test_a_configured_key_wins(postgres_database: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, fhir_store_url=postgres_database, hash_key="k" * 32)
    assert hash_key(settings) == b"k" * 32
