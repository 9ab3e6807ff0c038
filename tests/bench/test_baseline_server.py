"""The benchmark baseline answers what the guarded app answers, with no token and no
evidence (if it failed, every ratio the guarded-read benchmark prints would be wrong)."""

from pathlib import Path

from fastapi.testclient import TestClient

from api.settings import Settings
from bench.baseline_server import baseline_app
from evidence.store import EvidenceStore


def test_the_baseline_serves_reads_and_searches_without_a_token(
    tmp_path: Path, evidence_store: EvidenceStore
) -> None:
    app = baseline_app(Settings(data_dir=tmp_path, hash_key="k" * 32), evidence_store)
    with TestClient(app) as client:
        search = client.get("/fhir/Patient?_count=3")
        assert search.status_code == 200, search.text
        [first, *_] = search.json()["entry"]
        read = client.get(f"/fhir/Patient/{first['resource']['id']}")
        assert read.status_code == 200, read.text
        observations = client.get("/fhir/Observation?category=vital-signs&_count=20")
        assert observations.status_code == 200 and len(observations.json()["entry"]) == 20
