"""The routes' service groups built by the composition root (api.boot.services)."""

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from api.audit.serving import Auditing
from api.boot.runtime import build_runtime
from api.boot.services import Services
from api.fhir.serving import Discovery, Exporting, FhirServing
from api.settings import Settings
from evidence.store import EvidenceStore
from evidence.store.queries import StoreQueries
from tests.support import TestIssuer


def services_for(tmp_path: Path, store: EvidenceStore, inline: bool, **settings: Any) -> Services:
    runtime = build_runtime(
        Settings(data_dir=tmp_path / "data", base_url="http://x.test", **settings),
        demo_data=False,
        store=store,
        inline=inline,
    )
    try:
        return runtime.services
    finally:
        runtime.stop()


def test_groups_are_frozen_and_share_one_guard(
    tmp_path: Path, evidence_store: EvidenceStore
) -> None:
    services = services_for(tmp_path, evidence_store, inline=False)
    groups = (services.fhir, services.exporting, services.auditing, services.discovery)
    assert [type(g) for g in groups] == [FhirServing, Exporting, Auditing, Discovery]
    for group in (services, *groups):
        with pytest.raises(dataclasses.FrozenInstanceError):
            group.__setattr__(dataclasses.fields(group)[0].name, None)
    assert services.fhir.guard is services.guard is services.auditing.guard
    assert isinstance(services.auditing.evidence, StoreQueries)
    assert services.fhir.fhir_base == services.auditing.fhir_base == "http://x.test/fhir"
    assert services.fhir.cursor_key == services.auditing.cursor_key
    assert services.discovery.capability_statement["resourceType"] == "CapabilityStatement"
    assert services.dev_issuer is not None and services.dev_issuer.jwks["keys"]


def test_the_development_issuer_is_off_with_a_trusted_issuer(
    tmp_path: Path, evidence_store: EvidenceStore
) -> None:
    jwks = TestIssuer().write_jwks(tmp_path / "jwks.json")
    trusted = json.dumps([{"issuer": "https://i.test", "jwks_file": str(jwks)}])
    services = services_for(tmp_path, evidence_store, inline=False, trusted_issuers=trusted)
    assert services.dev_issuer is None


def test_alert_actions_tell_the_detector_where_it_runs(
    tmp_path: Path, evidence_store: EvidenceStore
) -> None:
    embedded = services_for(tmp_path / "a", evidence_store, inline=True)
    assert embedded.auditing.alert_actions._changed is not None
    api_only = services_for(tmp_path / "b", evidence_store, inline=False)
    assert api_only.auditing.alert_actions._changed is None
