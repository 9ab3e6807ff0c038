"""Context lookup from the FHIR store: patient flags and families, principal family."""

from pathlib import Path

from api.data.facts import UNAVAILABLE_PAUSE_S, ContextLookup
from api.data.port import UpstreamTimeout
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


def test_lookups_pause_after_the_fhir_data_failed_to_answer(tmp_path: Path) -> None:
    """A stalled upstream costs the evidence one timeout per pause, not one per event."""
    repo = ResourceRepository(tmp_path / "f.sqlite")
    repo.save_many(generate_dataset(patients=3), "2026-01-01T00:00:00Z")
    asked, now = [], [0.0]

    def read(rtype: str, rid: str) -> object:
        asked.append(rid)
        raise UpstreamTimeout("the upstream FHIR server timed out")

    lookup = ContextLookup(repo, clock=lambda: now[0])
    repo.read = read  # type: ignore[method-assign,assignment]
    assert [lookup.patient_facts(f"pat-0000{n}") for n in (1, 2, 3)] == [None] * 3
    assert lookup.principal_family("Practitioner/prac-0001") == ""
    assert asked == ["pat-00001"]  # then paused
    now[0] = UNAVAILABLE_PAUSE_S + 0.1
    del repo.read  # answers again
    assert lookup.patient_facts("pat-00002") is not None
