"""Context lookup from the FHIR store: patient flags and families, principal family."""

from pathlib import Path

from api.data.facts import ContextLookup
from api.data.sqlite.repository import ResourceRepository
from api.data.synthetic.dataset import generate_dataset


def test_facts_from_the_demo_data(tmp_path: Path) -> None:
    repo = ResourceRepository(tmp_path / "f.sqlite")
    resources = generate_dataset(patients=12)
    repo.save_many(resources, "2026-01-01T00:00:00Z")
    lookup = ContextLookup(repo)
    assert lookup.patient_facts("pat-00003").flags == frozenset({"vip"})  # type: ignore[union-attr]
    assert lookup.patient_facts("pat-00005").flags == frozenset({"staff"})  # type: ignore[union-attr]
    assert lookup.patient_facts("nope") is None
    practitioner = next(r for r in resources if r["resourceType"] == "Practitioner")
    family = lookup.principal_family(f"Practitioner/{practitioner['id']}")
    assert family == practitioner["name"][0]["family"].lower()
    assert lookup.principal_family(f"https://x/fhir/Practitioner/{practitioner['id']}") == family
    assert lookup.principal_family("") == "" and lookup.principal_family("Device/x") == ""
