"""Checkpoint and retention settings from the environment, and the retention horizon."""

import pytest

from api.boot.checkpointing import DAY_US, retention_floor_us
from api.settings import Settings


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_EVIDENCE_CHECKPOINT_INTERVAL_S", "2.5")
    monkeypatch.setenv("FHIR_EVIDENCE_HEARTBEAT_S", "30")
    monkeypatch.setenv("FHIR_EVIDENCE_SIGNING_KEY_FILE", "/secrets/checkpoint.pem")
    monkeypatch.setenv("FHIR_EVIDENCE_RETENTION_DAYS", "3650")
    settings = Settings()
    assert settings.checkpoint_interval_s == 2.5 and settings.heartbeat_s == 30
    assert str(settings.signing_key_file) == "/secrets/checkpoint.pem"
    assert settings.retention_days == 3650


def test_defaults() -> None:
    settings = Settings()
    assert (settings.checkpoint_interval_s, settings.heartbeat_s) == (10.0, 60.0)
    assert settings.signing_key_file is None and settings.retention_days is None


def test_the_retention_horizon_keeps_a_day_of_margin() -> None:
    now = 10_000 * DAY_US
    assert retention_floor_us(Settings(retention_days=30), now) == now - 29 * DAY_US
    assert retention_floor_us(Settings(), now) == now - (6 * 365 - 1) * DAY_US
    assert retention_floor_us(Settings(retention_days=30), 5 * DAY_US) == 0
