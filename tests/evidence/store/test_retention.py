"""Retention: six years unless FHIR_EVIDENCE_RETENTION_DAYS says otherwise (applied to
existing tables too), monthly partitions of the evidence (the by-patient index, a derived
copy, by year: fewer parts to probe per lookup), and Merkle nodes of high levels kept."""

import re

import pytest

from evidence.store import EvidenceStore
from evidence.store.seal.schema import ttl_interval

TABLES = ("access_events", "access_by_patient", "alerts", "checkpoints", "erasures")


def ddl(store: EvidenceStore, table: str) -> str:
    text = str(store.raw_command(f"SHOW CREATE TABLE {store.database}.{table}"))
    return text.replace("\\n", "\n").replace("\\'", "'")


def test_six_years_and_monthly_partitions_by_default(evidence_store: EvidenceStore) -> None:
    for table in TABLES:
        text = ddl(evidence_store, table)
        assert re.search(r"TTL toDateTime\(ts\) \+ toIntervalYear\(6\)", text), text
        expected = "toYear(ts)" if table == "access_by_patient" else "toYYYYMM(ts)"
        assert f"PARTITION BY {expected}" in text, text
    nodes = ddl(evidence_store, "merkle_nodes")
    assert "toIntervalYear(6) WHERE level < 16" in nodes


def test_a_configured_retention_applies_to_existing_tables(evidence_store: EvidenceStore) -> None:
    evidence_store.apply_schema(retention_days=400)
    for table in TABLES:
        assert "TTL toDateTime(ts) + toIntervalDay(400)" in ddl(evidence_store, table), table
    assert "toIntervalDay(400) WHERE level < 16" in ddl(evidence_store, "merkle_nodes")
    evidence_store.apply_schema()  # unset: left as configured
    assert "toIntervalDay(400)" in ddl(evidence_store, "access_events")


def test_retention_interval_values() -> None:
    assert ttl_interval(6, None) == "INTERVAL 6 YEAR"
    assert ttl_interval(6, 30) == "INTERVAL 30 DAY"
    with pytest.raises(ValueError):
        ttl_interval(6, 0)
