"""The port's contract for bulk loading: many resources in one call (several write batches,
index rows sent in bulk) are stored and indexed like resources saved one by one."""

from api.data.port import FhirData
from tests.api.data.port_contract.resources import NOW, ids_found, observation, patient


def test_a_large_load_is_indexed_like_single_saves(store: FhirData) -> None:
    resources = [patient(f"p{n}", family=f"Fam{n % 7}") for n in range(60)]
    resources += [
        observation(f"o{n:04d}", f"p{n % 60}", code="8867-4" if n % 3 else "2345-7", value=n)
        for n in range(1200)
    ]
    assert store.save_many(resources, NOW) == 1260
    assert len(ids_found(store, "Patient", ("family", "fam3"))) == 9
    labs = ids_found(store, "Observation", ("code", "2345-7"), ("patient", "p0"))
    assert labs == [f"o{n:04d}" for n in range(0, 1200, 60) if n % 3 == 0]
    assert ids_found(store, "Observation", ("value-quantity", "ge1199")) == ["o1199"]
    stored = store.save(observation("o0000", "p1", code="8867-4"), NOW)[0]
    assert stored.version_id == 2
    assert "o0000" not in ids_found(store, "Observation", ("code", "2345-7"), ("patient", "p0"))
