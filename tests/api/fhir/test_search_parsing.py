"""Search guardrails: the allow-list and typed parsing, refusal of everything else."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.errors import InvalidRequest
from api.fhir.search import COUNT_MAX, parse_search


def test_count_default_and_cap() -> None:
    assert parse_search("Patient", []).count == 20
    assert parse_search("Patient", [("_count", "1000")]).count == COUNT_MAX
    assert parse_search("Patient", [("_count", "0")]).count == 0


@pytest.mark.parametrize(
    ("rtype", "name", "value"),
    [
        ("Patient", "unknown", "x"),
        ("Patient", "_has:Observation:patient:code", "1"),
        ("Patient", "_filter", "name eq x"),
        ("Observation", "subject.name", "x"),
        ("Observation", "subject:Patient.name", "x"),
        ("Patient", "name:exact", "x"),
        ("Patient", "birthdate", "2020-99-99"),
        ("Patient", "birthdate", "ap2020"),
        ("Patient", "birthdate", "sa2020"),
        ("Observation", "patient", "Practitioner/x"),
        ("Observation", "patient", "Patient/../../x"),
        ("Observation", "patient", ""),
        ("Patient", "_count", "-5"),
        ("Patient", "_count", "1e3"),
        ("Patient", "_summary", "everything"),
        ("Patient", "_elements", "name,<b>"),
        ("Patient", "_format", "xml"),
        ("Patient", "_sort", "gender"),
        ("Patient", "_sort", "nope"),
        ("Patient", "_sort", "a,b,c,d"),
        ("Patient", "_include", "Patient:general-practitioner"),
        ("Observation", "_include", "Observation:patient:iterate"),
        ("Observation", "_include", "Encounter:patient"),
        ("Observation", "_revinclude", "Observation:patient"),
    ],
)
def test_refused(rtype: str, name: str, value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_search(rtype, [(name, value)])
    assert "<" not in caught.value.diagnostics


def test_too_many_parameters() -> None:
    with pytest.raises(InvalidRequest):
        parse_search("Patient", [("gender", "male")] * 31)


def test_values_are_parameters_not_sql() -> None:
    request = parse_search("Patient", [("name", "x' OR 1=1 --")])
    (criterion,) = request.criteria
    assert "OR 1=1" not in criterion.sql
    assert criterion.args == ("x' or 1=1 --%",)


@given(st.text(max_size=60))
def test_any_name_value_answers_parse_or_invalid(text: str) -> None:
    for name, value in (("name", text), (text, "x"), ("birthdate", text), ("patient", text)):
        try:
            parse_search("Patient" if name != "patient" else "Observation", [(name, value)])
        except InvalidRequest as exc:
            assert exc.status == 400
