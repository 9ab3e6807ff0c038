"""The port's contract: care-team membership follows CareTeam writes (only active teams count,
only Practitioner members), and so does a care-team reach inside searches."""

from api.data.port import FhirData
from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import NOW, care_team, observation

D1, D2 = "Practitioner/d1", "Practitioner/d2"


def test_membership_appears_and_disappears_with_the_team(store: FhirData) -> None:
    assert not store.care_team_member(D1, "p1")
    store.save(care_team("ct1", "p1", D1), NOW)
    assert store.care_team_member(D1, "p1")
    assert not store.care_team_member(D1, "p2") and not store.care_team_member(D2, "p1")
    store.save(care_team("ct1", "p1", D1, status="inactive"), NOW)
    assert not store.care_team_member(D1, "p1")
    store.save(care_team("ct1", "p1", D1), NOW)
    assert store.care_team_member(D1, "p1")
    store.delete("CareTeam", "ct1", NOW)
    assert not store.care_team_member(D1, "p1")


def test_membership_follows_changed_members_and_subjects(store: FhirData) -> None:
    store.save(care_team("ct1", "p1", D1), NOW)
    store.save(care_team("ct1", "p1", D2), NOW)
    assert not store.care_team_member(D1, "p1") and store.care_team_member(D2, "p1")
    store.save(care_team("ct1", "p2", D2), NOW)
    assert not store.care_team_member(D2, "p1") and store.care_team_member(D2, "p2")


def test_every_active_team_counts(store: FhirData) -> None:
    store.save_many([care_team("ct1", "p1", D1), care_team("ct2", "p1", D1, D2)], NOW)
    store.delete("CareTeam", "ct2", NOW)
    assert store.care_team_member(D1, "p1") and not store.care_team_member(D2, "p1")


def test_only_practitioners_with_a_patient_are_members(store: FhirData) -> None:
    store.save(care_team("ct1", "p1", "Organization/o1", "RelatedPerson/r1"), NOW)
    store.save({"resourceType": "CareTeam", "id": "ct2", "status": "active",
                "participant": [{"member": {"reference": D1}}]}, NOW)  # fmt: skip
    assert not store.care_team_member("Organization/o1", "p1")
    assert not store.care_team_member("RelatedPerson/r1", "p1")
    assert not store.care_team_member(D1, "")


def test_a_care_team_reach_follows_the_teams(store: FhirData) -> None:
    store.save_many([observation("o1", "p1"), observation("o2", "p2")], NOW)
    reach = PatientReach(Reach.CARE_TEAM, practitioner=D1)

    def visible() -> list[str]:
        page = store.search("Observation", [], reach, frozenset(), 10, 0)
        return [row.id for row in page.rows]

    assert visible() == []
    store.save(care_team("ct1", "p2", D1), NOW)
    assert visible() == ["o2"]
    store.save(care_team("ct1", "p2", D1, status="inactive"), NOW)
    assert visible() == []
