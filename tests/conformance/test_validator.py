"""The validator itself: its answer read right (pure, property-tested), and the JVM judging
what the issue says it judges (the invalid bodies of issue 22 refused, valid ones passed,
offline terminology: an unknown code system is no error)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hl7_validator import (
    MESSAGE_ID_EXTENSION,
    SEVERITIES,
    HL7Validator,
    HL7ValidatorError,
    ValidatorIssue,
    failing,
    issues_from_outcome,
)

texts = st.text(max_size=20)
raw_issues = st.fixed_dictionaries(
    {"severity": st.sampled_from(SEVERITIES), "code": st.just("processing")},
    optional={
        "diagnostics": texts,
        "expression": st.lists(texts, max_size=2),
        "location": st.lists(texts, max_size=2),
        "extension": st.lists(
            st.fixed_dictionaries(
                {"url": st.sampled_from([MESSAGE_ID_EXTENSION, "urn:x"]), "valueString": texts}
            ),
            max_size=2,
        ),
    },
)


@given(st.lists(raw_issues, max_size=6))
def test_every_issue_is_read_with_its_severity_and_place(issues: list[dict[str, Any]]) -> None:
    read = issues_from_outcome({"resourceType": "OperationOutcome", "issue": issues})
    assert [issue.severity for issue in read] == [raw["severity"] for raw in issues]
    for issue, raw in zip(read, issues, strict=True):
        places = [p for p in raw.get("expression", []) + raw.get("location", []) if p]
        assert issue.expression == (places[0] if places else "")
        assert issue.message == raw.get("diagnostics", "")
    assert failing(read) == [i for i in read if i.severity in ("error", "fatal")]


@pytest.mark.parametrize(
    "answer",
    [
        {"resourceType": "Patient"},
        {"resourceType": "OperationOutcome", "issue": [{"severity": "bad", "code": "x"}]},
        {"resourceType": "OperationOutcome", "issue": ["not an object"]},
    ],
)
def test_an_answer_that_is_no_outcome_is_an_error(answer: dict[str, Any]) -> None:
    with pytest.raises(HL7ValidatorError):
        issues_from_outcome(answer)


def where(issues: list[ValidatorIssue]) -> set[str]:
    return {issue.expression for issue in issues}


def test_the_validator_judges_structure_types_bindings_and_invariants(
    hl7_validator: HL7Validator,
) -> None:
    # issue 22's invalid bodies: each refused, at its element
    robot = hl7_validator.errors({"resourceType": "Patient", "gender": "robot"})
    assert "Patient.gender" in where(robot)
    active = hl7_validator.errors({"resourceType": "Patient", "active": "yes"})
    assert "Patient.active" in where(active)
    obs6 = hl7_validator.errors(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "pulse"},
            "valueString": "72",
            "dataAbsentReason": {"text": "lost"},
        }
    )
    assert any(issue.message_id.endswith("#obs-6") for issue in obs6), obs6
    dom3 = hl7_validator.errors(
        {
            "resourceType": "Patient",
            "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}],
        }
    )
    assert where(dom3) == {"Patient.contained[0]"} and "dom-3" in dom3[0].message, dom3
    # JSON text as sent on the wire, a cardinality and an unknown element
    assert hl7_validator.errors('{"resourceType": "Observation", "status": "final"}')
    assert hl7_validator.errors({"resourceType": "Patient", "colour": "blue"})
    # valid ones pass; a code system only a terminology server knows is no error offline
    valid = {
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"profile": ["https://profiles.example.org/unknown"]},
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "364075005"}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 72, "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    assert hl7_validator.errors(valid) == []
    assert hl7_validator.errors({"resourceType": "Patient", "gender": "other"}) == []
    # a profile asked for must be known; a known one is applied
    vitals = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
    assert hl7_validator.errors(valid, profile=vitals)  # vital signs need a category
    unknown = hl7_validator.errors(valid, profile="https://profiles.example.org/unknown")
    assert [issue.severity for issue in unknown] == ["fatal"]
