"""The port's contract for conditional saves: `expected_version` must be the stored version of
a resource that exists, else VersionConflict and nothing changes."""

import pytest

from api.data.port import FhirData, VersionConflict
from tests.api.data.port_contract.resources import NOW, ids_found, patient


def test_the_expected_version_saves_the_next(store: FhirData) -> None:
    store.save(patient("p1", gender="female"), NOW)
    stored, created = store.save(patient("p1", gender="male"), NOW, expected_version=1)
    assert not created and stored.version_id == 2
    assert store.save(patient("p1"), NOW, expected_version=2)[0].version_id == 3


def test_a_stale_version_conflicts_and_changes_nothing(store: FhirData) -> None:
    store.save(patient("p1", gender="female"), NOW)
    store.save(patient("p1", gender="female"), NOW)
    for stale in (1, 3, 0):
        with pytest.raises(VersionConflict) as raised:
            store.save(patient("p1", gender="male"), NOW, expected_version=stale)
        assert raised.value.code == "resource.version_conflict"
    read = store.read("Patient", "p1")
    assert read is not None and read.version_id == 2 and read.as_dict()["gender"] == "female"
    assert ids_found(store, "Patient", ("gender", "male")) == []


def test_a_version_expected_of_a_missing_or_deleted_resource_conflicts(store: FhirData) -> None:
    with pytest.raises(VersionConflict):
        store.save(patient("p1"), NOW, expected_version=1)
    assert store.read("Patient", "p1") is None and store.is_empty()
    store.save(patient("p2"), NOW)
    store.delete("Patient", "p2", NOW)
    with pytest.raises(VersionConflict):
        store.save(patient("p2"), NOW, expected_version=2)
    assert store.read("Patient", "p2") is None
