"""The real HAPI FHIR JPA upstream (scripts/hapi.sh, tests/hapi_server.py) serves what
gateway mode relies on: the demo data under its own ids, CRUD with versions and ETags,
If-Match (a stale one refused), labels merged on update (replaced with
X-Meta-Snapshot-Mode), standard search parameters, _include/_revinclude, _security:not
on a label, _count and paging through next links."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hapi_server import FHIR_JSON, HapiUpstream, demo_resources

pytestmark = pytest.mark.hapi

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PATIENT = "pat-00001"
# HAPI's header for an update whose meta replaces the stored one instead of adding to it.
SNAPSHOT_ALL = "TAG, PROFILE, SECURITY_LABEL"

Resource = dict[str, Any]


@pytest.fixture(scope="module")
def demo() -> list[Resource]:
    return demo_resources()


@pytest.fixture
def fhir(hapi_upstream: HapiUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=hapi_upstream.base_url, headers={"Accept": FHIR_JSON}, timeout=120
    ) as client:
        yield client


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text[:2000]
    return answer.json() if answer.content else None


def _entries(bundle: Resource, mode: str | None = None) -> list[Resource]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if mode is None or entry.get("search", {}).get("mode") == mode
    ]


def _labels(resource: Resource) -> set[tuple[str, str]]:
    return {(s["system"], s["code"]) for s in resource.get("meta", {}).get("security", [])}


def _next(bundle: Resource) -> str | None:
    return next(
        (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
    )


def test_demo_data_is_seeded_under_its_own_ids(
    hapi_upstream: HapiUpstream, fhir: httpx.Client, demo: list[Resource]
) -> None:
    assert hapi_upstream.seeded_ids == [f"{r['resourceType']}/{r['id']}" for r in demo]
    if hapi_upstream.state_dir is not None:  # started by scripts/hapi.sh, not external
        assert hapi_upstream.running and hapi_upstream.pid
    for resource_type in ("Patient", "Observation", "Condition", "CareTeam", "Practitioner"):
        expected = sum(1 for r in demo if r["resourceType"] == resource_type)
        counted = _ok(fhir.get(f"/{resource_type}", params={"_summary": "count"}))
        assert counted["total"] >= expected  # other tests may have added some
    patient = next(r for r in demo if r["resourceType"] == "Patient" and r["id"] == PATIENT)
    answer = fhir.get(f"/Patient/{PATIENT}")
    read = _ok(answer)
    assert read["name"] == patient["name"] and read["birthDate"] == patient["birthDate"]
    assert answer.headers["ETag"] == f'W/"{read["meta"]["versionId"]}"'
    assert _ok(fhir.get("/Patient/no-such-patient"), 404)["resourceType"] == "OperationOutcome"


def test_crud_with_versions_etags_if_match_and_labels(fhir: httpx.Client) -> None:
    new_id = f"hapi-test-{uuid.uuid4().hex[:12]}"
    restricted = {"system": CONFIDENTIALITY, "code": "R"}
    patient: Resource = {
        "resourceType": "Patient",
        "id": new_id,
        "meta": {"security": [restricted]},
        "name": [{"family": "Upstream", "given": ["Hapi"]}],
    }
    headers = {"Content-Type": FHIR_JSON}
    created = fhir.put(f"/Patient/{new_id}", json=patient, headers=headers)
    assert _ok(created, 201)["meta"]["versionId"] == "1"
    assert created.headers["ETag"] == 'W/"1"'
    assert f"Patient/{new_id}/_history/1" in created.headers["Content-Location"]

    # An update naming the stored version succeeds. HAPI merges meta on update: a label the
    # update leaves out stays (gateway mode must judge a write by the union), unless the
    # update says X-Meta-Snapshot-Mode (tags are stored per version: VERSIONED tag mode).
    del patient["meta"]
    patient["gender"] = "female"
    updated = fhir.put(f"/Patient/{new_id}", json=patient, headers={**headers, "If-Match": 'W/"1"'})
    assert _ok(updated)["meta"]["versionId"] == "2"
    assert updated.headers["ETag"] == 'W/"2"'
    read = _ok(fhir.get(f"/Patient/{new_id}"))
    assert read["gender"] == "female" and _labels(read) == {(CONFIDENTIALITY, "R")}
    snapshot = {**headers, "If-Match": 'W/"2"', "X-Meta-Snapshot-Mode": SNAPSHOT_ALL}
    replaced = _ok(fhir.put(f"/Patient/{new_id}", json=patient, headers=snapshot))
    assert replaced["meta"]["versionId"] == "3" and _labels(replaced) == set()
    assert _labels(_ok(fhir.get(f"/Patient/{new_id}"))) == set()
    version_1 = _ok(fhir.get(f"/Patient/{new_id}/_history/1"))
    assert _labels(version_1) == {(CONFIDENTIALITY, "R")}

    # A stale If-Match is refused and changes nothing. FHIR says 412; HAPI 8.8.0 answers 409
    # Conflict ("HAPI-0989: ... is not the current version"): gateway mode answers 412.
    patient["gender"] = "male"
    stale = fhir.put(f"/Patient/{new_id}", json=patient, headers={**headers, "If-Match": 'W/"2"'})
    assert stale.status_code in (409, 412), stale.text[:2000]
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert _ok(fhir.get(f"/Patient/{new_id}"))["gender"] == "female"

    # A create without an id gets a server-assigned one.
    posted = fhir.post("/Patient", json={"resourceType": "Patient"}, headers=headers)
    assert _ok(posted, 201)["id"]
    assert "/Patient/" in posted.headers["Location"]

    assert fhir.delete(f"/Patient/{new_id}").status_code in (200, 204)
    assert fhir.get(f"/Patient/{new_id}").status_code == 410


def test_standard_search_count_and_paging(fhir: httpx.Client, demo: list[Resource]) -> None:
    expected = {
        r["id"]
        for r in demo
        if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{PATIENT}"
    }
    assert len(expected) > 3
    whole = _ok(fhir.get("/Observation", params={"patient": PATIENT, "_count": 100}))
    assert {r["id"] for r in _entries(whole)} == expected
    assert _next(whole) is None
    by_subject = _ok(fhir.get("/Observation", params={"subject": f"Patient/{PATIENT}"}))
    assert {r["id"] for r in _entries(by_subject)} == expected

    # _count=3: pages of at most 3, followed through HAPI's own next links, no duplicates.
    seen: list[str] = []
    page = _ok(fhir.get("/Observation", params={"patient": PATIENT, "_count": 3}))
    pages = 1
    while True:
        ids = [r["id"] for r in _entries(page)]
        assert 0 < len(ids) <= 3
        seen += ids
        url = _next(page)
        if url is None:
            break
        assert "_getpages=" in url and url.startswith(str(fhir.base_url).rstrip("/"))
        page = _ok(fhir.get(url))
        pages += 1
    assert sorted(seen) == sorted(expected) and pages == -(-len(expected) // 3)


def test_include_and_revinclude(fhir: httpx.Client, demo: list[Resource]) -> None:
    observations = {
        r["id"]
        for r in demo
        if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{PATIENT}"
    }
    included = _ok(
        fhir.get(
            "/Observation",
            params={"patient": PATIENT, "_include": "Observation:patient", "_count": 100},
        )
    )
    assert {r["id"] for r in _entries(included, "match")} == observations
    assert [(r["resourceType"], r["id"]) for r in _entries(included, "include")] == [
        ("Patient", PATIENT)
    ]
    revincluded = _ok(
        fhir.get(
            "/Patient",
            params={"_id": PATIENT, "_revinclude": "Observation:patient", "_count": 100},
        )
    )
    assert [r["id"] for r in _entries(revincluded, "match")] == [PATIENT]
    assert {r["id"] for r in _entries(revincluded, "include")} == observations


@pytest.mark.parametrize(("system", "code"), [(ACT_CODE, "PSY"), (CONFIDENTIALITY, "R")])
def test_security_label_search_and_not(
    fhir: httpx.Client, demo: list[Resource], system: str, code: str
) -> None:
    conditions = [r for r in demo if r["resourceType"] == "Condition"]
    labelled = {r["id"] for r in conditions if (system, code) in _labels(r)}
    assert labelled and len(labelled) < len(conditions)
    token = f"{system}|{code}"
    having = _ok(fhir.get("/Condition", params={"_security": token, "_count": 500}))
    assert {r["id"] for r in _entries(having)} == labelled
    without = _ok(
        fhir.get("/Condition", params={"_security:not": token, "_count": 500, "_total": "accurate"})
    )
    ids = {r["id"] for r in _entries(without)}
    assert ids.isdisjoint(labelled)
    assert ids >= {r["id"] for r in conditions} - labelled
    assert all((system, code) not in _labels(r) for r in _entries(without))
    assert without["total"] == len(ids)
