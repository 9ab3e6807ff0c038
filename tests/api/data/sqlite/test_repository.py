"""The SQLite FHIR repository: CRUD, versioning, search criteria, reach and labels in SQL."""

from pathlib import Path

import pytest

from api.data.sqlite.repository import ResourceRepository
from api.data.synthetic.dataset import generate_dataset
from api.fhir.search import parse_search
from api.security.access import PatientReach, Reach

NOW = "2026-11-29T12:00:00Z"
ALL = PatientReach(Reach.ALL)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> ResourceRepository:
    repo = ResourceRepository(tmp_path_factory.mktemp("repo") / "fhir.sqlite")
    repo.save_many(generate_dataset(patients=30, seed=7), NOW)
    return repo


def _search(repo: ResourceRepository, rtype: str, query: list[tuple[str, str]], **kw: object):  # type: ignore[no-untyped-def]
    request = parse_search(rtype, query)
    reach = kw.get("reach", ALL)
    hidden = kw.get("hidden", frozenset())
    outside = bool(kw.get("outside", False))
    return repo.search(rtype, request.criteria, reach, hidden, request.count, 0, outside)  # type: ignore[arg-type]


def test_wal_mode(tmp_path: Path) -> None:
    repo = ResourceRepository(tmp_path / "x.sqlite")
    mode = repo._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_create_read_update_delete(tmp_path: Path) -> None:
    repo = ResourceRepository(tmp_path / "crud.sqlite")
    stored, created = repo.save({"resourceType": "Patient", "id": "p1", "gender": "female"}, NOW)
    assert created and stored.version_id == 1
    assert stored.as_dict()["meta"] == {"versionId": "1", "lastUpdated": NOW}
    again, created = repo.save({"resourceType": "Patient", "id": "p1", "gender": "male"}, NOW)
    assert not created and again.version_id == 2
    read = repo.read("Patient", "p1")
    assert read is not None and read.as_dict()["gender"] == "male"
    assert repo.delete("Patient", "p1", NOW)
    assert repo.read("Patient", "p1") is None
    assert not repo.delete("Patient", "p1", NOW)


def test_owner_and_labels_indexed(repository: ResourceRepository) -> None:
    page = _search(repository, "Condition", [("code", "86406008")])
    assert page.total >= 1
    assert all("HIV" in row.labels for row in page.rows)
    assert all(row.patient_id for row in page.rows)


@pytest.mark.parametrize(
    ("rtype", "query"),
    [
        ("Observation", [("category", "laboratory")]),
        (
            "Observation",
            [
                (
                    "category",
                    "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
                )
            ],
        ),
        ("Observation", [("code", "8867-4,8480-6")]),
        ("Observation", [("date", "ge2023-01-01"), ("date", "lt2026-01-01")]),
        ("Patient", [("gender", "female")]),
        ("Patient", [("birthdate", "le2000")]),
        ("Encounter", [("patient", "Patient/pat-00001")]),
        ("Encounter", [("subject", "pat-00001")]),
        ("CareTeam", [("status", "active")]),
        ("MedicationRequest", [("status", "active")]),
    ],
)
def test_search_criteria_match(
    repository: ResourceRepository, rtype: str, query: list[tuple[str, str]]
) -> None:
    page = _search(repository, rtype, query)
    assert page.total > 0 and page.rows
    assert page.total == page.matching == page.in_reach


def test_string_search_is_prefix_and_case_insensitive(repository: ResourceRepository) -> None:
    patient = next(r for r in _search(repository, "Patient", []).rows).as_dict()
    family = patient["name"][0]["family"]
    page = _search(repository, "Patient", [("family", family[:3].upper())])
    assert patient["id"] in {row.id for row in page.rows}


def test_like_wildcards_are_escaped(repository: ResourceRepository) -> None:
    assert _search(repository, "Patient", [("name", "%")]).total == 0
    assert _search(repository, "Patient", [("name", "_")]).total == 0


def test_reach_one_patient(repository: ResourceRepository) -> None:
    reach = PatientReach(Reach.ONE, patient="pat-00003")
    page = _search(repository, "Observation", [("_count", "100")], reach=reach, outside=True)
    assert page.rows and {row.patient_id for row in page.rows} == {"pat-00003"}
    assert page.matching > page.in_reach == page.total
    cheap = _search(repository, "Observation", [("_count", "100")], reach=reach)
    assert cheap.matching == cheap.in_reach == page.in_reach


def test_reach_care_team(repository: ResourceRepository) -> None:
    team = _search(repository, "CareTeam", [("status", "active")]).rows[0].as_dict()
    practitioner = team["participant"][0]["member"]["reference"]
    reach = PatientReach(Reach.CARE_TEAM, practitioner=practitioner)
    page = _search(repository, "Patient", [("_count", "100")], reach=reach)
    patients = {row.id for row in page.rows}
    assert team["subject"]["reference"].split("/")[1] in patients
    assert all(repository.care_team_member(practitioner, pid) for pid in patients)


def test_reach_none_sees_no_patient_data(repository: ResourceRepository) -> None:
    page = _search(repository, "Observation", [], reach=PatientReach(Reach.NONE))
    assert page.total == 0
    practitioners = _search(repository, "Practitioner", [], reach=PatientReach(Reach.NONE))
    assert practitioners.total == 0  # nobody's: only the reach of every patient (plan_access
    # gives it to non-compartment types, so Practitioners stay shared)


def test_hidden_labels_filtered_in_sql(repository: ResourceRepository) -> None:
    everything = _search(repository, "Condition", [("_count", "100")])
    hidden = _search(repository, "Condition", [("_count", "100")], hidden=frozenset({"HIV", "R"}))
    assert hidden.total < everything.total
    assert hidden.in_reach == everything.total
    assert not any({"HIV", "R"} & row.labels for row in hidden.rows)


def test_care_team_membership_follows_updates(tmp_path: Path) -> None:
    repo = ResourceRepository(tmp_path / "ct.sqlite")
    team = {"resourceType": "CareTeam", "id": "ct1", "status": "active",
            "subject": {"reference": "Patient/p1"},
            "participant": [{"member": {"reference": "Practitioner/d1"}}]}  # fmt: skip
    repo.save(team, NOW)
    assert repo.care_team_member("Practitioner/d1", "p1")
    repo.save({**team, "status": "inactive"}, NOW)
    assert not repo.care_team_member("Practitioner/d1", "p1")
    repo.save(team, NOW)
    repo.delete("CareTeam", "ct1", NOW)
    assert not repo.care_team_member("Practitioner/d1", "p1")
