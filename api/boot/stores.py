"""Where the data lives, chosen from Settings: the FHIR data (SQLite in the data dir, or
PostgreSQL shared by every replica and worker) and the evidence store (chDB in the data dir,
or a ClickHouse server)."""

from pathlib import Path

from api.data.port import FhirData
from api.data.sqlite.repository import ResourceRepository
from api.settings import Settings
from evidence.store import EvidenceStore, open_evidence_store
from evidence.store.clickhouse import store_dsn


def open_fhir_data(settings: Settings) -> FhirData:
    """A handle of its own on the FHIR data: a SQLite connection, or a PostgreSQL pool."""
    if settings.fhir_store_url:
        from api.data.postgres.repository import PostgresRepository

        return PostgresRepository(settings.fhir_store_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ResourceRepository(settings.data_dir / "fhir.sqlite")


def export_root(settings: Settings) -> Path | None:
    """Where export jobs and files live; None when exports must be refused: the FHIR data
    is shared (PostgreSQL) but no storage every replica shares was named, so a poll or a
    download answered by another replica would not find the job."""
    if settings.export_dir is not None:
        return settings.export_dir
    if settings.fhir_store_url:
        return None
    return settings.data_dir / "exports"


def open_evidence(settings: Settings) -> EvidenceStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_evidence_store(
        store_dsn(settings.clickhouse_url, settings.data_dir),
        retention_days=settings.retention_days,
    )
