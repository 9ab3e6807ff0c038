"""The port's contract for loading data (the demo data) into an empty store only."""

from api.data.port import FhirData
from tests.api.data.port_contract.resources import NOW, observation, patient


def test_load_into_empty_loads_everything_once(store: FhirData) -> None:
    resources = [patient("p1"), patient("p2"), observation("o1", "p1")]
    assert store.load_into_empty(resources, NOW) == 3
    assert not store.is_empty()
    stored = store.read("Observation", "o1")
    assert stored is not None and stored.version_id == 1 and stored.patient_id == "p1"
    assert store.load_into_empty([patient("p3")], NOW) == 0
    assert store.read("Patient", "p3") is None
    again = store.read("Patient", "p1")
    assert again is not None and again.version_id == 1  # nothing saved a second time


def test_load_into_a_store_with_data_saves_nothing(store: FhirData) -> None:
    store.save(patient("p9"), NOW)
    assert store.load_into_empty(iter([patient("p1")]), NOW) == 0
    assert store.read("Patient", "p1") is None
