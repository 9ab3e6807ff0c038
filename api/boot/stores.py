"""Where the data lives, chosen from Settings: the FHIR data (SQLite in the data dir) and the
evidence store (chDB in the data dir, or a ClickHouse server)."""

from api.data.port import FhirData
from api.data.sqlite.repository import ResourceRepository
from api.settings import Settings
from evidence.store import EvidenceStore, open_evidence_store
from evidence.store.clickhouse import store_dsn


def open_fhir_data(settings: Settings) -> FhirData:
    """A connection of its own to the FHIR data (one per thread that reads it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ResourceRepository(settings.data_dir / "fhir.sqlite")


def open_evidence(settings: Settings) -> EvidenceStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_evidence_store(
        store_dsn(settings.clickhouse_url, settings.data_dir),
        retention_days=settings.retention_days,
    )
