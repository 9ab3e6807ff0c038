"""The Patient compartment table and reference normalisation (pure): what a reference names
after it is written, and which patient a resource then belongs to."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.security.compartment import (
    COMPARTMENT_TYPES,
    PATIENT_COMPARTMENT,
    InvalidReference,
    compartment_patients,
    normalize_reference,
    normalize_references,
    owner_patient,
)

BASE = "https://fhir.example.org:8443/fhir"
KNOWN = frozenset({"Patient", "Group", "Practitioner", "Observation", "Encounter"})


def known(name: str) -> bool:
    return name in KNOWN


def test_the_table_covers_every_served_patient_data_type() -> None:
    """R4's CompartmentDefinition for the types served; Practitioner is in none."""
    assert {
        "Patient", "Encounter", "Observation", "Condition", "MedicationRequest", "CareTeam",
        "Group",
    } == COMPARTMENT_TYPES  # fmt: skip
    assert "Practitioner" not in PATIENT_COMPARTMENT
    assert ("performer", "performer") in PATIENT_COMPARTMENT["Observation"]
    assert ("asserter", "asserter") in PATIENT_COMPARTMENT["Condition"]


@pytest.mark.parametrize(
    ("given_ref", "stored"),
    [
        ("Patient/p1", "Patient/p1"),
        ("Patient/p1/_history/7", "Patient/p1"),
        (f"{BASE}/Patient/p1", "Patient/p1"),
        (f"{BASE}/Patient/p1/_history/2", "Patient/p1"),
        ("HTTPS://FHIR.example.ORG:8443/fhir/Patient/p1", "Patient/p1"),
        (f"{BASE}/", "invalid"),
        (f"{BASE}/patient/p1", "invalid"),
        (f"{BASE}/Patient/p1?x=1", "invalid"),
        (f"{BASE}/Patient/p1#frag", "invalid"),
        ("https://fhir.example.org:8443/fhirx/Patient/p1", "foreign"),
        ("http://fhir.example.org:8443/fhir/Patient/p1", "foreign"),  # another scheme
        ("https://other.example/fhir/Patient/p1", "foreign"),
        ("#p1", "#p1"),
        ("#", "#"),
        ("urn:uuid:2f6c2a4e-0d1b-4c62-9b8e-6b1b5e0d9a11", "foreign"),
        ("patient/p1", "invalid"),
        ("PATIENT/p1", "invalid"),
        ("Patient/p1 ", "invalid"),
        (" Patient/p1", "invalid"),
        ("Patient/ p1", "invalid"),
        ("Patient/p1\n", "invalid"),
        ("Patient/", "invalid"),
        ("p1", "invalid"),
        ("", "invalid"),
        ("Patient/p1/_history/", "invalid"),
        ("Patient/p1/extra", "invalid"),
        ("Patient?identifier=x", "invalid"),
        ("../Patient/p1", "invalid"),
        ("Patient/" + "x" * 65, "invalid"),
    ],
)
def test_reference_forms(given_ref: str, stored: str) -> None:
    if stored == "invalid":
        with pytest.raises(InvalidReference):
            normalize_reference(given_ref, BASE, known)
        return
    expected = given_ref if stored == "foreign" else stored
    assert normalize_reference(given_ref, BASE, known) == expected


def test_every_reference_in_a_resource_is_normalised_and_the_input_kept() -> None:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "subject": {"reference": f"{BASE}/Patient/p1/_history/1"},
        "performer": [{"reference": "Practitioner/d1/_history/2", "display": "Dr"}],
        "contained": [{"resourceType": "Group", "member": [{"entity": {"reference": "#x"}}]}],
    }
    stored = normalize_references(body, BASE, known)
    assert stored["subject"] == {"reference": "Patient/p1"}
    assert stored["performer"] == [{"reference": "Practitioner/d1", "display": "Dr"}]
    assert body["subject"]["reference"].startswith(BASE)  # a copy
    with pytest.raises(InvalidReference):
        normalize_references({**body, "encounter": {"reference": "encounter/e1"}}, BASE, known)


def obs(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o", **fields}


def ref(text: str) -> dict[str, str]:
    return {"reference": text}


@pytest.mark.parametrize(
    ("resource", "owner"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
        ({"resourceType": "Patient", "id": "p1", "link": [{"other": ref("Patient/p2")}]}, "p1"),
        (obs(subject=ref("Patient/p1")), "p1"),
        (obs(subject=ref("Patient/p1"), performer=[ref("Practitioner/d1")]), "p1"),
        (obs(subject=ref("Patient/p1"), performer=[ref("Patient/p1")]), "p1"),
        (obs(subject=ref("Patient/p1"), performer=[ref("Patient/p2")]), ""),  # several
        (obs(subject=ref("Group/g1"), performer=[ref("Patient/p2")]), "p2"),
        (obs(subject=ref("Patient/p2"), performer=[ref("#d")],
             contained=[{"resourceType": "Practitioner", "id": "d"}]), "p2"),
        (obs(subject=ref("Patient/p2"), performer=[ref("#d")],
             contained=[{"resourceType": "Patient", "id": "d"}]), ""),  # might be another
        (obs(subject=ref("Patient/p2"), performer=[ref("#nowhere")]), ""),
        (obs(subject=ref("Patient/p2"), performer=[ref("https://x.org/Practitioner/d")]), ""),
        (obs(subject=ref("Patient/p2"), performer=[{"identifier": {"value": "p1"}}]), ""),
        (obs(subject=ref("Patient/p2"),
             performer=[{"type": "Practitioner", "identifier": {"value": "d1"}}]), "p2"),
        (obs(subject=ref("Patient/p2"),
             performer=[{"type": "patient", "identifier": {"value": "p1"}}]), ""),
        (obs(), ""),
        (obs(subject=ref("Group/g1")), ""),
        (obs(subject=ref("#p")), ""),
        (obs(subject={"identifier": {"value": "p1"}}), ""),
        (obs(subject={"type": "Patient", "identifier": {"value": "p1"}}), ""),
        (obs(subject=ref("https://other.example/fhir/Patient/p1")), ""),
        (obs(subject=ref("patient/p1")), ""),  # never stored (refused), never anybody's
        (obs(subject=ref(" Patient/p1")), ""),
        (obs(subject="Patient/p1"), ""),
        ({"resourceType": "Condition", "asserter": ref("Patient/p3")}, "p3"),
        ({"resourceType": "CareTeam", "participant": [{"member": ref("Patient/p3")}]}, "p3"),
        ({"resourceType": "Group", "member": [{"entity": ref("Patient/p3")}]}, "p3"),
        (
            {"resourceType": "Group",
             "member": [{"entity": ref("Patient/p3")}, {"entity": ref("Patient/p4")}]},
            "",
        ),
        ({"resourceType": "Practitioner", "id": "d1"}, ""),
        ({"resourceType": "Encounter", "subject": ref("Patient/p1/_history/1")}, "p1"),
    ],
)  # fmt: skip
def test_owner_patient(resource: dict[str, Any], owner: str) -> None:
    assert owner_patient(resource) == owner


TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


@given(TEXT, st.sampled_from(["", "Patient/", f"{BASE}/", f"{BASE}/Patient/", "#"]))
def test_normalisation_is_total_and_idempotent(text: str, prefix: str) -> None:
    """Any string is either refused or stored; stored, it is stored again unchanged, and it
    names a patient only as `Patient/<id>` (relative)."""
    try:
        stored = normalize_reference(prefix + text, BASE, known)
    except InvalidReference:
        return
    assert normalize_reference(stored, BASE, known) == stored
    named = compartment_patients(obs(subject=ref(stored)))
    assert named == ({stored.removeprefix("Patient/")} if stored.startswith("Patient/") else set())
