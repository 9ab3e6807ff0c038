"""A change of the detection rules in force is itself evidence (one event per change)."""

from pathlib import Path

import httpx
import pytest

from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, TestIssuer, wait_for


@pytest.fixture
def issuer(request: pytest.FixtureRequest) -> TestIssuer:
    return fresh_issuer(request)


def _rule_events(server: ServerProcess, issuer: TestIssuer) -> list[dict[str, object]]:
    auditor = {"Authorization": f"Bearer {issuer.token('aud', 'system/AuditEvent.rs')}"}
    url = f"{server.base_url}/audit/principals/system:fhir-evidence/accesses"
    return [a for a in httpx.get(url, headers=auditor).json()["accesses"]
            if a["action"] == "detection.rules"]  # fmt: skip


def test_rule_changes_are_recorded_once(tmp_path: Path, issuer: TestIssuer) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, issuer).start()
    events = wait_for(lambda: _rule_events(first, issuer), timeout=10)
    assert len(events) == 1 and str(events[0]["policy_version"]).startswith("detection:")
    first.terminate()
    same = ServerProcess(data, issuer, port=first.port).start()
    assert len(wait_for(lambda: _rule_events(same, issuer), timeout=10)) == 1  # unchanged
    same.terminate()
    changed_env = {"FHIR_EVIDENCE_DETECTION": '{"denied_burst_floor_1m": 10}'}
    changed = ServerProcess(data, issuer, port=first.port, extra_env=changed_env).start()
    try:
        two = wait_for(lambda: len(_rule_events(changed, issuer)) == 2 and
                       _rule_events(changed, issuer), timeout=10)  # fmt: skip
        assert two[0]["policy_version"] != two[1]["policy_version"]
    finally:
        changed.terminate()
