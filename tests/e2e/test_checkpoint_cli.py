"""The real commands on a real data dir: `serve` seals signed checkpoints, SIGTERM seals the
last events, `erase` removes one patient's rows, `verify` (also with a JWKS fetched from the
server) stays intact, and a restarted server's proofs verify with the snippet printed in
docs/evidence.md."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.audit.test_proofs import readme_verifier
from tests.keycloak_issuer import fresh_issuer
from tests.support import ServerProcess, wait_for

pytestmark = pytest.mark.slow
KEYS = "/.well-known/fhir-evidence/checkpoint-keys"


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.boot.cli", *args], env=server.env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_serve_erase_verify_prove(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    issuer = fresh_issuer(request)
    server = ServerProcess(tmp_path / "data", issuer,
                           extra_env={"FHIR_EVIDENCE_CHECKPOINT_INTERVAL_S": "0.5"})  # fmt: skip
    server.start()
    token = {"Authorization": f"Bearer {issuer.token('dr-e2e', 'system/*.rs')}"}
    auditor = {"Authorization": f"Bearer {issuer.token('aud', 'system/AuditEvent.rs')}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        ids = [http.get(f"/fhir/Patient/pat-{n:05d}", headers=token).headers["x-request-id"]
               for n in (7, 8, 7)]  # fmt: skip

        def proof_of(request_id: str) -> dict[str, object] | None:
            response = http.get(f"/audit/requests/{request_id}/proof", headers=auditor)
            return response.json() if response.status_code == 200 else None

        assert wait_for(lambda: proof_of(ids[2]), timeout=15)  # the runner sealed it
        (tmp_path / "keys.json").write_text(http.get(KEYS).text)
    server.terminate()

    erased = cli(server, "erase", "--patient", "pat-00007", "--reason", "GDPR art. 17")
    assert erased.returncode == 0, erased.stderr
    assert "2 events erased" in erased.stdout
    checked = cli(server, "verify", "--keys", str(tmp_path / "keys.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["intact"] and len(report["erased"]) == 2 and report["checkpoints_checked"]

    server.start()
    verify = readme_verifier()
    keys = httpx.get(f"{server.base_url}{KEYS}").json()["keys"]
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.get(f"/audit/requests/{ids[0]}/proof", headers=auditor).status_code == 404
        proof = http.get(f"/audit/requests/{ids[1]}/proof", headers=auditor).json()
        jwk = next(k for k in keys if k["kid"] == proof["checkpoint"]["kid"])
        assert verify(proof, jwk)
    server.terminate()
