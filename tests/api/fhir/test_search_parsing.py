"""Search guardrails: the allow-list and typed parsing, refusal of everything else."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.data.query import (
    Criterion,
    DateIn,
    DateRange,
    IdIn,
    Prefix,
    QuantityIn,
    QuantityRange,
    ReferenceIn,
    SortKey,
    StringStartsWith,
    TokenIn,
)
from api.errors import InvalidRequest, NotAcceptable
from api.fhir.search import COUNT_MAX, constraint_alternatives, parse_search


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
        ("Patient", "_total", "sometimes"),
        ("Patient", "_pretty", "yes"),
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


def test_a_format_other_than_json_is_not_acceptable() -> None:
    for value in ("xml", "application/fhir+xml", "ttl"):
        with pytest.raises(NotAcceptable):  # 406, not 400: the request is fine, the format not
            parse_search("Patient", [("_format", value)])
    parse_search("Patient", [("_format", "application/fhir+json"), ("_total", "accurate")])


def test_too_many_parameters() -> None:
    with pytest.raises(InvalidRequest):
        parse_search("Patient", [("gender", "male")] * 31)


def test_values_are_data_not_query_text() -> None:
    request = parse_search("Patient", [("name", "x' OR 1=1 --")])
    assert request.criteria == [StringStartsWith("name", ("x' or 1=1 --",))]


UCUM = "http://unitsofmeasure.org"


def _date(param: str, prefix: Prefix, start: str, end: str) -> DateIn:
    return DateIn(param, (DateRange(prefix, f"{start}T00:00:00", f"{end}T23:59:59"),))


def _quantity(prefix: Prefix, value: float, half: float, unit: str = "") -> QuantityIn:
    return QuantityIn(
        "value-quantity", (QuantityRange(prefix, value, value - half, value + half, unit),)
    )


@pytest.mark.parametrize(
    ("rtype", "name", "value", "criterion"),
    [
        ("Patient", "family", "Sm,JO", StringStartsWith("family", ("sm", "jo"))),
        ("Patient", "gender", "female,other", TokenIn("gender", ("female", "other"))),
        (
            "Observation",
            "code",
            "http://loinc.org|8867-4",
            TokenIn("code", ("http://loinc.org|8867-4",)),
        ),
        ("Patient", "_id", "a,b", IdIn(("a", "b"))),
        (
            "Observation",
            "patient",
            "p1,Patient/p2",
            ReferenceIn("patient", ("Patient/p1", "Patient/p2")),
        ),
        ("Observation", "subject", "Group/g1", ReferenceIn("subject", ("Group/g1",))),
        ("Observation", "encounter", "e1", ReferenceIn("encounter", ("Encounter/e1",))),
        ("Patient", "birthdate", "2020", _date("birthdate", Prefix.EQ, "2020-01-01", "2020-12-31")),
        (
            "Patient",
            "birthdate",
            "gt2020-02",
            _date("birthdate", Prefix.GT, "2020-02-01", "2020-02-29"),
        ),
        (
            "Patient",
            "birthdate",
            "ge2020-02-03",
            _date("birthdate", Prefix.GE, "2020-02-03", "2020-02-03"),
        ),
        (
            "Patient",
            "_lastUpdated",
            "le2026-01-02T03:04:05+01:00",
            DateIn(
                "_lastUpdated",
                (DateRange(Prefix.LE, "2026-01-02T02:04:05", "2026-01-02T02:04:05"),),
            ),
        ),
        ("Observation", "value-quantity", "5.4", _quantity(Prefix.EQ, 5.4, 0.05)),
        (
            "Observation",
            "value-quantity",
            f"ge100|{UCUM}|mm[Hg]",
            _quantity(Prefix.GE, 100.0, 0.5, f"{UCUM}|mm[Hg]"),
        ),
        ("Observation", "value-quantity", "lt7||kg", _quantity(Prefix.LT, 7.0, 0.5, "kg")),
        ("Observation", "value-quantity", "le7|http://x|", _quantity(Prefix.LE, 7.0, 0.5)),
    ],
)
def test_parsed_into_neutral_criteria(
    rtype: str, name: str, value: str, criterion: Criterion
) -> None:
    assert parse_search(rtype, [(name, value)]).criteria == [criterion]


def test_sort_keys() -> None:
    keys = parse_search("Patient", [("_sort", "-birthdate,family,_id")]).sort
    assert keys == [
        SortKey("birthdate", "date", True),
        SortKey("family", "string"),
        SortKey("_id", "token"),
    ]


def test_constraints_that_do_not_parse_match_nothing() -> None:
    constraints = ((("category", "laboratory"),), (("nope", "x"),), ())
    assert constraint_alternatives("Observation", constraints) == (
        (TokenIn("category", ("laboratory",)),),
        (),
        (),
    )


@given(st.text(max_size=60))
def test_any_name_value_answers_parse_or_invalid(text: str) -> None:
    for name, value in (("name", text), (text, "x"), ("birthdate", text), ("patient", text)):
        try:
            parse_search("Patient" if name != "patient" else "Observation", [(name, value)])
        except InvalidRequest as exc:
            assert exc.status == 400
