"""Enrichment: VIP/staff pseudonyms and a same-surname boolean, never a name."""

from stream.enrich import PatientFacts, enrich
from tests.evidence.builders import PSEUDONYMIZER

FACTS = {
    "p1": PatientFacts("okafor", frozenset({"vip"})),
    "p2": PatientFacts("lindqvist", frozenset({"staff"})),
    "p3": PatientFacts("okafor", frozenset()),
}


def run(patients: list[str], fhir_user: str, family: str) -> dict[str, object]:
    event = {"patient_ids": patients, "fhir_user": fhir_user}
    return enrich(event, FACTS.get, lambda user: family if user else "", PSEUDONYMIZER)


def test_flags_become_pseudonyms() -> None:
    out = run(["p1", "p2", "p9"], "Practitioner/x", "nguyen")
    assert out["vip_patients"] == [PSEUDONYMIZER.patient("p1")]
    assert out["staff_patients"] == [PSEUDONYMIZER.patient("p2")]
    assert out["same_surname"] is False


def test_same_surname_only_as_a_boolean() -> None:
    out = run(["p3"], "Practitioner/x", "okafor")
    assert out["same_surname"] is True
    assert "okafor" not in str(out)
    assert run(["p3"], "", "okafor")["same_surname"] is False
