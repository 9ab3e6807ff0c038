"""The port's contract: reads, versioned writes, deletes, bulk loading, failures."""

import pytest

from api.data.port import FhirData, RepositoryUnavailable
from tests.api.data.port_contract.resources import (
    NOW,
    ids_found,
    labelled,
    observation,
    patient,
    practitioner,
)

LATER = "2026-03-02T08:30:00Z"


def test_a_missing_resource_reads_as_none(store: FhirData) -> None:
    assert store.read("Patient", "nobody") is None
    store.save(patient("p1"), NOW)
    assert store.read("Observation", "p1") is None


def test_save_creates_version_one(store: FhirData) -> None:
    stored, created = store.save(patient("p1", family="Smith"), NOW)
    assert created and stored.version_id == 1
    assert (stored.resource_type, stored.id) == ("Patient", "p1")
    assert stored.as_dict()["meta"] == {"versionId": "1", "lastUpdated": NOW}
    assert store.read("Patient", "p1") == stored


def test_updates_increment_the_version(store: FhirData) -> None:
    store.save(patient("p1", gender="female"), NOW)
    stored, created = store.save(patient("p1", gender="male"), LATER)
    assert not created and stored.version_id == 2
    read = store.read("Patient", "p1")
    assert read is not None and read.version_id == 2
    assert read.as_dict()["meta"] == {"versionId": "2", "lastUpdated": LATER}
    assert read.as_dict()["gender"] == "male"
    assert ids_found(store, "Patient", ("gender", "female")) == []
    assert ids_found(store, "Patient", ("gender", "male")) == ["p1"]


def test_the_owner_and_labels_are_kept(store: FhirData) -> None:
    store.save(labelled(observation("o1", "p1"), "HIV", "R"), NOW)
    store.save(practitioner("d1"), NOW)
    stored = store.read("Observation", "o1")
    assert stored is not None and stored.patient_id == "p1"
    assert stored.labels == frozenset({"HIV", "R"})
    owner_of_itself = store.save(patient("p1"), NOW)[0]
    assert owner_of_itself.patient_id == "p1" and owner_of_itself.labels == frozenset()
    outside = store.read("Practitioner", "d1")
    assert outside is not None and outside.patient_id == ""


def test_the_body_is_served_as_stored(store: FhirData) -> None:
    stored, _ = store.save(observation("o1", "p1", code="8867-4", value=72.5), NOW)
    read = store.read("Observation", "o1")
    assert read is not None and read.body == stored.body
    assert read.as_dict()["valueQuantity"]["value"] == 72.5


def test_delete_hides(store: FhirData) -> None:
    store.save(patient("p1", gender="female"), NOW)
    assert store.delete("Patient", "p1", LATER)
    assert store.read("Patient", "p1") is None
    assert ids_found(store, "Patient") == []
    assert ids_found(store, "Patient", ("gender", "female")) == []
    assert not store.delete("Patient", "p1", LATER)
    assert not store.delete("Patient", "never", LATER)


def test_a_resource_saved_again_after_deletion_gets_a_later_version(store: FhirData) -> None:
    store.save(patient("p1"), NOW)
    store.delete("Patient", "p1", NOW)
    stored, _ = store.save(patient("p1"), LATER)
    assert stored.version_id > 1
    assert ids_found(store, "Patient") == ["p1"]


def test_is_empty_and_save_many(store: FhirData) -> None:
    assert store.is_empty()
    resources = [patient(f"p{n}") for n in range(5)] + [observation("o1", "p1")]
    assert store.save_many(iter(resources), NOW) == 6
    assert not store.is_empty()
    assert ids_found(store, "Patient") == ["p0", "p1", "p2", "p3", "p4"]
    observed = store.read("Observation", "o1")
    assert observed is not None and observed.version_id == 1
    assert store.save_many([], NOW) == 0


def test_a_failing_store_raises_repository_unavailable(store: FhirData) -> None:
    store.close()
    with pytest.raises(RepositoryUnavailable):
        store.read("Patient", "p1")
    with pytest.raises(RepositoryUnavailable):
        store.save(patient("p1"), NOW)
