"""Per-principal rate limiting: 429 with Retry-After, audited, other principals unaffected."""

from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import assert_outcome
from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, TestIssuer, wait_for


@pytest.fixture
def issuer(request: pytest.FixtureRequest) -> TestIssuer:
    return fresh_issuer(request)


def test_principal_over_its_rate_gets_429(tmp_path: Path, issuer: TestIssuer) -> None:
    limits = {"FHIR_EVIDENCE_RATE_LIMIT_PER_S": "1", "FHIR_EVIDENCE_RATE_LIMIT_BURST": "5"}
    server = ServerProcess(tmp_path / "data", issuer, extra_env=limits).start()
    try:
        greedy = {"Authorization": f"Bearer {issuer.token('greedy', 'system/*.rs')}"}
        calm = {"Authorization": f"Bearer {issuer.token('calm', 'system/*.rs')}"}
        auditor = {"Authorization": f"Bearer {issuer.token('aud', 'system/AuditEvent.rs')}"}
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            statuses = [http.get("/fhir/Practitioner", headers=greedy) for _ in range(8)]
            assert [r.status_code for r in statuses[:5]] == [200] * 5
            throttled = statuses[-1]
            assert_outcome(throttled, 429)
            assert int(throttled.headers["retry-after"]) >= 1
            assert http.get("/fhir/Practitioner", headers=calm).status_code == 200
            request_id = throttled.headers["x-request-id"]

            def evidence() -> dict[str, object] | None:
                found = http.get(f"/audit/requests/{request_id}", headers=auditor)
                return found.json() if found.status_code == 200 else None

            view = wait_for(evidence, timeout=5)
            assert view["decision"] == "deny" and "rate.limited" in view["reasons"]
    finally:
        server.terminate()
