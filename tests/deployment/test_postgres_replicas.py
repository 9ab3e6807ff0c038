"""Two `serve --role api` replicas and one worker on one PostgreSQL and the real broker: the
replicas serve the same data, agree on versions and care teams, and the worker's enrichment
reads what they serve (issue 14's replicated deployment)."""

import concurrent.futures
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.access.guard import CARE_TEAM_TTL_S
from api.data.facts import FLAG_SYSTEM
from tests.deployment.evidence import wait_alert
from tests.deployment.harness import Deployment

pytestmark = pytest.mark.postgres


@pytest.fixture
def replicas(
    deploy: Callable[..., Deployment], postgres_database: str, tmp_path: Path
) -> Deployment:
    deployment = deploy(
        apis=2,
        workers=1,
        FHIR_EVIDENCE_FHIR_STORE_URL=postgres_database,
        FHIR_EVIDENCE_EXPORT_DIR=str(tmp_path / "exports"),
    )
    deployment.start()
    return deployment


def _headers(deployment: Deployment, sub: str, scope: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.issuer.token(sub, scope, **claims)}"}


def test_replicas_share_writes_versions_and_care_teams(replicas: Deployment) -> None:
    a, b = (httpx.Client(base_url=p.url, timeout=15) for p in replicas.apis)
    admin = _headers(replicas, "admin", "system/*.cruds")
    # demo data loaded once for both (two replicas started on one empty database at once)
    one = a.get("/fhir/Patient/pat-00001", headers=admin).json()
    assert one["meta"]["versionId"] == "1"
    assert (
        b.get("/fhir/Patient?_count=1", headers=admin).json()["total"]
        == (a.get("/fhir/Patient?_count=1", headers=admin).json()["total"])
    )
    # a write through A is read through B (and its paging cursor works on A)
    rid = f"rep-{uuid.uuid4().hex[:8]}"
    body = {"resourceType": "Patient", "id": rid, "name": [{"family": "Replica"}]}
    assert a.put(f"/fhir/Patient/{rid}", json=body, headers=admin).status_code == 201
    assert b.get(f"/fhir/Patient/{rid}", headers=admin).json()["name"][0]["family"] == "Replica"
    page = b.get("/fhir/Observation?_count=2", headers=admin).json()
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    parts = urlsplit(following)  # the public base URL, behind which either replica answers
    assert a.get(f"{parts.path}?{parts.query}", headers=admin).status_code == 200
    # a CareTeam removed through A stops access through B within the cache bound
    doctor = _headers(replicas, "rep-doc", "user/Patient.rs", fhirUser="Practitioner/prac-0999")
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": f"Patient/{rid}"},
        "participant": [{"member": {"reference": "Practitioner/prac-0999"}}],
    }
    created = a.post("/fhir/CareTeam", json=team, headers=admin)
    assert created.status_code == 201
    assert b.get(f"/fhir/Patient/{rid}", headers=doctor).status_code == 200
    assert a.delete(f"/fhir/CareTeam/{created.json()['id']}", headers=admin).status_code == 204
    removed = time.monotonic()
    while b.get(f"/fhir/Patient/{rid}", headers=doctor).status_code == 200:
        assert time.monotonic() - removed < CARE_TEAM_TTL_S + 2, "B kept the removed care team"
        time.sleep(0.25)
    print(f"[replicas] care team removal seen through B after {time.monotonic() - removed:.1f}s")


def test_concurrent_conflicting_updates_through_both_lose_nothing(replicas: Deployment) -> None:
    """100 updates at once through both replicas: with If-Match each applies or gets 412 and
    the version counts exactly the applied ones; without it every one applies."""
    urls = [p.url for p in replicas.apis]
    admin = _headers(replicas, "admin", "system/*.cruds")
    rid = f"race-{uuid.uuid4().hex[:8]}"
    body = {"resourceType": "Patient", "id": rid, "active": True}
    assert httpx.put(f"{urls[0]}/fhir/Patient/{rid}", json=body, headers=admin).status_code == 201

    def update(n: int, conditional: bool) -> int:
        with httpx.Client(base_url=urls[n % 2], timeout=30) as http:
            headers = dict(admin)
            if conditional:
                current = http.get(f"/fhir/Patient/{rid}", headers=admin).json()
                headers["If-Match"] = f'W/"{current["meta"]["versionId"]}"'
            changed = {**body, "name": [{"family": f"Writer{n}"}]}
            return http.put(f"/fhir/Patient/{rid}", json=changed, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        conditional = Counter(pool.map(lambda n: update(n, True), range(100)))
    assert set(conditional) <= {200, 412} and conditional[200] >= 1, conditional
    version = int(
        httpx.get(f"{urls[1]}/fhir/Patient/{rid}", headers=admin).json()["meta"]["versionId"]
    )
    assert version == 1 + conditional[200]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        blind = Counter(pool.map(lambda n: update(n, False), range(100)))
    assert blind == Counter({200: 100})
    final = httpx.get(f"{urls[0]}/fhir/Patient/{rid}", headers=admin).json()
    assert int(final["meta"]["versionId"]) == version + 100
    print(f"[replicas] 100 conditional updates: {conditional[200]} applied, "
          f"{conditional[412]} refused with 412; 100 blind updates: all applied")  # fmt: skip


def test_the_workers_enrichment_reads_what_the_replicas_serve(replicas: Deployment) -> None:
    """A VIP flag written through A (the worker's data dir holds no FHIR data of its own)
    drives the worker's vip_access alert for a read through B."""
    a, b = (httpx.Client(base_url=p.url, timeout=15) for p in replicas.apis)
    admin = _headers(replicas, "admin", "system/*.cruds")
    vip = f"vip-{uuid.uuid4().hex[:8]}"
    body = {
        "resourceType": "Patient",
        "id": vip,
        "meta": {"tag": [{"system": FLAG_SYSTEM, "code": "vip"}]},
        "name": [{"family": "Important"}],
    }
    assert a.put(f"/fhir/Patient/{vip}", json=body, headers=admin).status_code == 201
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    assert b.get(f"/fhir/Patient/{vip}", headers=_headers(replicas, reader, "system/Patient.rs"))\
        .status_code == 200  # fmt: skip
    alert = wait_alert(replicas, "vip_access", reader, timeout=60)
    assert alert["kind"] == "vip_access"
