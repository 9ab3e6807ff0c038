"""Legal erasure through the real runtime: one patient's rows leave the store, the chain,
the checkpoints and the proofs of every other event still verify, the erased sequences are
accounted for by their erasure record, and tampering with that record is named."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.checkpointing import verify_evidence
from api.boot.erasure import erase_patient
from api.boot.runtime import build_runtime, load_demo_data
from api.boot.stores import open_fhir_data
from api.settings import Settings
from evidence.core.problems import VerificationReport
from evidence.store import EvidenceStore
from tests.api.audit.test_proofs import readme_verifier
from tests.support import TestIssuer

BASE = "http://testserver"
VICTIM, OTHER = "pat-00003", "pat-00004"


class Setup:
    def __init__(self, tmp: Path, store: EvidenceStore) -> None:
        self.issuer = TestIssuer(audience=f"{BASE}/fhir")
        jwks = self.issuer.write_jwks(tmp / "jwks.json")
        self.settings = Settings(
            data_dir=tmp / "data", base_url=BASE, rate_limit_per_s=0,
            trusted_issuers=json.dumps([{"issuer": self.issuer.issuer, "jwks_file": str(jwks)}]),
        )  # fmt: skip
        self.store = store
        repository = open_fhir_data(self.settings)
        load_demo_data(repository, 6, 42)
        repository.close()

    def requests(self, urls: list[str]) -> list[str]:
        """Serve the urls, stop (drain and seal); returns the request ids."""
        runtime = build_runtime(self.settings, demo_data=False, store=self.store)
        headers = {"Authorization": f"Bearer {self.issuer.token('dr-e', 'system/*.rs')}"}
        with TestClient(create_app(runtime)) as client:
            return [client.get(url, headers=headers).headers["x-request-id"] for url in urls]

    def verify(self) -> VerificationReport:
        jwks = json.loads((self.settings.data_dir / "keys" /
                           "checkpoint-signing-key.pem.jwks.json").read_text())  # fmt: skip
        return verify_evidence(self.settings, self.store, jwks, 0, 2**62)

    def proof(self, request_id: str) -> tuple[int, dict[str, Any]]:
        runtime = build_runtime(self.settings, demo_data=False, store=self.store)
        headers = {"Authorization": f"Bearer {self.issuer.token('aud', 'system/AuditEvent.rs')}"}
        with TestClient(create_app(runtime)) as client:
            response = client.get(f"/audit/requests/{request_id}/proof", headers=headers)
            jwks = client.get("/.well-known/fhir-evidence/checkpoint-keys").json()
        body = response.json()
        if response.status_code == 200:
            body["jwk"] = next(k for k in jwks["keys"] if k["kid"] == body["checkpoint"]["kid"])
        return response.status_code, body


@pytest.fixture
def setup(tmp_path: Path, chdb_client: object) -> Iterator[Setup]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = EvidenceStore(chdb_client, database)  # type: ignore[arg-type]
    store.apply_schema()
    yield Setup(tmp_path, store)
    store.raw_command(f"DROP DATABASE IF EXISTS {database}")


def ids_of(store: EvidenceStore, patient_hash: str) -> list[str]:
    rows = store.select(
        f"SELECT event_id FROM {store.database}.access_events FINAL "
        "WHERE has(patient_hashes, {h:String})", {"h": patient_hash},
    )  # fmt: skip
    return [r["event_id"] for r in rows]


def test_erase_then_everything_else_still_verifies(setup: Setup) -> None:
    urls = [f"/fhir/Patient/{VICTIM}", f"/fhir/Patient/{OTHER}", f"/fhir/Patient/{VICTIM}",
            "/fhir/Patient?_count=6", f"/fhir/Observation?patient={VICTIM}"]  # fmt: skip
    request_ids = setup.requests(urls)
    assert setup.verify().intact
    outcome = erase_patient(setup.settings, VICTIM, "GDPR art. 17 request #42", store=setup.store)
    assert outcome.erased == 3 and outcome.kept_shared == 1 and outcome.recorded_by
    runtime_hash = build_runtime(setup.settings, demo_data=False, store=setup.store)
    victim_hash = runtime_hash.services.auditing.pseudonymizer.patient(VICTIM)
    runtime_hash.stop()
    assert len(ids_of(setup.store, victim_hash)) == 1  # the shared search is kept

    report = setup.verify()
    assert report.intact, report.as_dict()
    assert len(report.erased) == 3
    assert {e.recorded_by for e in report.erased} == {outcome.recorded_by}
    assert {e.erasure_id for e in report.erased} == {outcome.erasure_id}

    status, _ = setup.proof(request_ids[0])
    assert status == 404  # erased
    verify = readme_verifier()
    for request_id in (request_ids[1], request_ids[3]):
        status, proof = setup.proof(request_id)
        assert status == 200 and verify(proof, proof["jwk"])


def test_erasing_shared_events_too(setup: Setup) -> None:
    setup.requests([f"/fhir/Patient/{VICTIM}", "/fhir/Patient?_count=6"])
    outcome = erase_patient(setup.settings, VICTIM, "court order", include_shared=True,
                            store=setup.store)  # fmt: skip
    assert (outcome.erased, outcome.kept_shared) == (2, 0)
    assert setup.verify().intact


def test_nothing_to_erase(setup: Setup) -> None:
    setup.requests([f"/fhir/Patient/{OTHER}"])
    outcome = erase_patient(setup.settings, VICTIM, "nothing", store=setup.store)
    assert (outcome.erased, outcome.recorded_by) == (0, "")
    assert setup.verify().intact and setup.verify().erased == []


def _erasure_rows(store: EvidenceStore) -> list[dict[str, Any]]:
    return store.select(f"SELECT * FROM {store.database}.erasures ORDER BY sequence", {})


def _sql(store: EvidenceStore, statement: str) -> None:
    store.command(statement.replace("{db}", store.database) + " SETTINGS mutations_sync = 1")


def test_tampered_erasure_records_are_named(setup: Setup) -> None:
    setup.requests([f"/fhir/Patient/{VICTIM}", f"/fhir/Patient/{OTHER}", f"/fhir/Patient/{VICTIM}"])
    erase_patient(setup.settings, VICTIM, "GDPR art. 17", store=setup.store)
    first, _second = _erasure_rows(setup.store)
    _sql(setup.store, f"ALTER TABLE {{db}}.erasures UPDATE event_hash = '{'ab' * 32}' "
                      f"WHERE sequence = {first['sequence']}")  # fmt: skip
    problems = {(p.kind, p.sequence, p.event_id) for p in setup.verify().problems}
    assert ("erasure.altered", first["sequence"], first["event_id"]) in problems
    assert {kind for kind, _, _ in problems} == {"erasure.altered"}


def test_an_erasure_invented_to_hide_a_deletion_is_named(setup: Setup) -> None:
    setup.requests([f"/fhir/Patient/{OTHER}", f"/fhir/Patient/{OTHER}"])
    row = setup.store.select(
        f"SELECT producer_id, sequence, event_hash, event_id FROM {setup.store.database}"
        ".access_events FINAL ORDER BY sequence LIMIT 1", {},
    )[0]  # fmt: skip
    fake = {"erasure_id": "f" * 32, "erased_at_us": time.time_ns() // 1000, "reason": "x", **row}
    setup.store.raw_insert("erasures", list(fake), json.dumps(fake).encode(), "JSONEachRow")
    _sql(
        setup.store, f"ALTER TABLE {{db}}.access_events DELETE WHERE event_id = '{row['event_id']}'"
    )
    _sql(
        setup.store,
        f"ALTER TABLE {{db}}.access_by_patient DELETE WHERE event_id = '{row['event_id']}'",
    )
    problems = [(p.kind, p.sequence, p.event_id) for p in setup.verify().problems]
    assert problems == [("erasure.unrecorded", row["sequence"], row["event_id"])]
