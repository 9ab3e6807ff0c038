"""The labelled scenario, short: a reduced clinical load with all eight injected misuse kinds
through the real server; every injected misuse is alerted for its principal and normal
traffic raises none of the volume or relationship alerts.

The detector's windows are real time and a slow scrape caught by the 5-minute window but not
the 1-minute one needs more than a minute of wall time, so this server lowers the 5-minute
floor below the 1-minute one (20 < 40) and the test checks that the slow scrape's alert never
saw 1-minute-floor many patients in a minute; `python -m bench.scenario` runs it at the
default floors.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.boot.runtime import DEMO_PATIENTS, DEMO_SEED
from api.data.synthetic.dataset import generate_dataset
from bench.scenario import (
    Credential,
    RunResult,
    Scenario,
    build_scenario,
    report,
    run_scenario,
    score,
    world_from_dataset,
)
from stream.detection.config import DetectionConfig
from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess

OVERRIDES = {"bulk_spike_floor_5m": 20}
CLEAN_KINDS = {
    "bulk_access_spike",
    "denied_burst",
    "enumeration",
    "vip_access",
    "staff_record_access",
}


@pytest.fixture(scope="module")
def replay(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Scenario, RunResult]]:
    issuer = fresh_issuer(request)
    env = {
        "FHIR_EVIDENCE_DETECTION": json.dumps(OVERRIDES),
        "FHIR_EVIDENCE_RATE_LIMIT_PER_S": "1000",
        "FHIR_EVIDENCE_RATE_LIMIT_BURST": "1000",
    }
    base: Path = tmp_path_factory.mktemp("scenario")
    server = ServerProcess(base / "data", issuer, extra_env=env).start()
    try:
        world = world_from_dataset(generate_dataset(DEMO_PATIENTS, DEMO_SEED))
        config = DetectionConfig.from_mapping(OVERRIDES)
        plan = build_scenario(world, 11, 0.6, config, clinicians=12, integrations=2)

        def mint(cred: Credential) -> str:
            return issuer.token(cred.sub, cred.scope, ttl=600, **cred.claims())

        auditor = issuer.token("scenario-auditor", "system/AuditEvent.rs", ttl=600)
        result = run_scenario(plan, server.base_url, mint, auditor, wait_s=20, settle_s=2)
        print(report(plan, result, world))
        yield plan, result
    finally:
        server.terminate()


def test_every_injected_misuse_is_alerted_for_its_principal(replay: Any) -> None:
    plan, result = replay
    assert len(plan.misusers) == 9 and len(plan.labels) == 11
    assert not result.errors
    assert not result.unexpected(plan)  # every step answered as planned (2xx, 403, 404)
    assert score(plan, result.alerts).missed == ()  # recall 1.0


def test_normal_traffic_stays_clean(replay: Any) -> None:
    plan, result = replay
    normal = {a.principal for a in plan.normal}
    noisy = [
        (a["kind"], a["principal"])
        for a in result.alerts
        if a["principal"] in normal and a["kind"] in CLEAN_KINDS
    ]
    assert noisy == []


def test_slow_scrape_stays_under_the_one_minute_floor(replay: Any) -> None:
    _, result = replay
    (alert,) = [a for a in result.alerts if a["principal"] == "scraper-slow"]
    assert alert["kind"] == "bulk_access_spike"
    assert alert["counts"]["distinct_patients_1m"] < DetectionConfig().bulk_spike_floor_1m
    assert alert["counts"]["distinct_patients_5m"] >= OVERRIDES["bulk_spike_floor_5m"]
