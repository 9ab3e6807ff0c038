"""Where the data lives, chosen from Settings: the FHIR data (SQLite in the data dir,
PostgreSQL shared by every replica and worker, or an upstream FHIR server this one guards)
and the evidence store (chDB in the data dir, or a ClickHouse server)."""

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from api.data.port import FhirData
from api.data.sqlite.repository import ResourceRepository
from api.settings import Settings
from evidence.store import EvidenceStore, open_evidence_store
from evidence.store.clickhouse import store_dsn

if TYPE_CHECKING:
    from api.data.upstream import Credentials


def open_fhir_data(settings: Settings) -> FhirData:
    """A handle of its own on the FHIR data: a SQLite connection, a PostgreSQL pool, or an
    HTTP connection pool to the upstream FHIR server."""
    if settings.upstream_fhir_url:
        return open_upstream(settings)
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
    if settings.fhir_store_url or settings.upstream_fhir_url:
        return None
    return settings.data_dir / "exports"


def open_upstream(settings: Settings) -> FhirData:
    from api.data.upstream import UpstreamConfig, UpstreamFhir, UpstreamHttp

    assert settings.upstream_fhir_url  # noqa: S101 (the caller checked)
    config = UpstreamConfig(
        settings.upstream_fhir_url,
        upstream_credentials(settings),
        connect_timeout_s=settings.upstream_connect_timeout_s,
        read_timeout_s=settings.upstream_timeout_s,
        pool_size=settings.upstream_pool_size,
    )
    return UpstreamFhir(UpstreamHttp(config))


def upstream_credentials(settings: Settings) -> "Credentials":
    """The credentials the settings name (validated complete by Settings)."""
    from api.data.upstream import ClientCredentials, NoCredentials, StaticBearer

    if settings.upstream_auth == "bearer" and settings.upstream_bearer_token:
        return StaticBearer(settings.upstream_bearer_token.get_secret_value())
    if settings.upstream_auth != "client_credentials":
        return NoCredentials()
    key, secret = None, settings.upstream_client_secret
    if settings.upstream_private_key_file is not None:
        key = load_pem_private_key(settings.upstream_private_key_file.read_bytes(), None)
    return ClientCredentials(
        str(settings.upstream_token_url),
        str(settings.upstream_client_id),
        settings.upstream_scope,
        client_secret=secret.get_secret_value() if secret else None,
        private_key=key,
        algorithm=settings.upstream_private_key_alg,
        key_id=settings.upstream_key_id,
    )


def open_evidence(settings: Settings, directory: str = "evidence") -> EvidenceStore:
    """The ClickHouse server of the settings, else chDB in `directory` of the data dir."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dsn = store_dsn(settings.clickhouse_url, settings.data_dir)
    if not settings.clickhouse_url and directory != "evidence":
        dsn = f"chdb://{(settings.data_dir / directory).resolve()}"
    return open_evidence_store(dsn, retention_days=settings.retention_days)
