"""The evidence store: clickhouse-connect over chDB (embedded) or a ClickHouse server."""

from evidence.core.errors import StoreUnavailable
from evidence.store.clickhouse import EvidenceStore, open_evidence_store

__all__ = ["EvidenceStore", "StoreUnavailable", "open_evidence_store"]
