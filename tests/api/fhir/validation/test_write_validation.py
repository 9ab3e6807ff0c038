"""Write validation (api.fhir.validation), pure: every valid resource (the corpus's valid
bodies, the demo data) validates, and each class of fault, aimed by hypothesis at any element
of any of them, is refused with a problem naming that element."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from api.data.synthetic.dataset import generate_dataset
from api.fhir.validation import Problem, outcome_issues, problems_of
from api.fhir.validation.definitions import is_primitive, value_set
from tests.api.fhir.validation.sites import Site, get, sites

CORPUS = Path(__file__).resolve().parents[3] / "conformance" / "corpus" / "valid"
VALID = [json.loads(p.read_text()) for p in sorted(CORPUS.glob("*.json"))]
VALID += generate_dataset(4, seed=7)
FAST = settings(max_examples=80, deadline=None)
NOT_IN_ANY_VALUE_SET = "zz-not-a-code"
BAD_FORMATS = {
    "date": ["2021-02-30", "2020-13", "20200101", "2020/01/01"],
    "dateTime": ["2020-01-01T10:00:00", "2020-01-01T24:00:00Z", "2021-02-29", "now"],
    "instant": ["2020-01-01", "2020-01-01T10:00:00", "2020-01-01T10:00Z"],
    "time": ["25:00:00", "10:00", "10:00:00Z"],
    "code": [" active", "active ", "two  spaces", ""],
    "id": ["a b", "x" * 65, "a_b", ""],
    "uri": ["has space", ""],
    "string": [""],
}


def expressions(problems: list[Problem]) -> set[str]:
    return {p.expression for p in problems}


def put(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    get(body, path[:-1])[path[-1]] = value


def test_every_valid_resource_validates() -> None:
    assert len(VALID) > 100
    for resource in VALID:
        assert problems_of(resource) == [], (resource.get("id"), problems_of(resource))


def _wrong_json(code: str, value: Any) -> st.SearchStrategy[Any]:
    if code == "boolean":
        return st.sampled_from(["true", "false", 1, 0])
    if code in ("integer", "positiveInt", "unsignedInt", "decimal"):
        return st.sampled_from([str(value), True, [value]])
    wrong: list[Any] = [1, True, 1.5, {"value": value}]
    return st.sampled_from(wrong + BAD_FORMATS.get(code, []))


@FAST
@given(resource=st.sampled_from(VALID), data=st.data())
def test_a_primitive_of_the_wrong_type_or_format_is_refused_at_its_element(
    resource: dict[str, Any], data: st.DataObject
) -> None:
    found = [s for s in sites(resource) if is_primitive(s.child.type) and s.child.type != "xhtml"]
    assume(found)
    site = data.draw(st.sampled_from(found))
    body = copy.deepcopy(resource)
    put(body, site.path, data.draw(_wrong_json(site.child.type, get(body, site.path))))
    problems = problems_of(body)
    assert site.expression in expressions(problems), (site, problems)


def _bound(site: Site) -> bool:
    return bool(site.child.binding) and value_set(site.child.binding) is not None and (
        site.child.type in ("code", "Coding", "CodeableConcept"))  # fmt: skip


@FAST
@given(resource=st.sampled_from([r for r in VALID if any(map(_bound, sites(r)))]), data=st.data())
def test_a_code_outside_a_required_binding_is_refused_at_its_element(
    resource: dict[str, Any], data: st.DataObject
) -> None:
    site = data.draw(st.sampled_from([s for s in sites(resource) if _bound(s)]))
    body = copy.deepcopy(resource)
    if site.child.type == "code":
        put(body, site.path, NOT_IN_ANY_VALUE_SET)
    else:
        system = data.draw(
            st.sampled_from(sorted({s for s, _ in value_set(site.child.binding) or ()}))
        )
        coding = {"system": system, "code": NOT_IN_ANY_VALUE_SET}
        put(body, site.path, coding if site.child.type == "Coding" else {"coding": [coding]})
    found = [p for p in problems_of(body) if p.expression == site.expression]
    assert [p.code for p in found] == ["code-invalid"], (site, problems_of(body))


def _mandatory(site: Site) -> bool:
    return site.child.min >= 1


@FAST
@given(
    resource=st.sampled_from([r for r in VALID if any(map(_mandatory, sites(r)))]), data=st.data()
)
def test_removing_a_mandatory_element_is_refused_naming_it(
    resource: dict[str, Any], data: st.DataObject
) -> None:
    site = data.draw(st.sampled_from([s for s in sites(resource) if _mandatory(s)]))
    body = copy.deepcopy(resource)
    holder = get(body, site.parent)
    del holder[site.child.name]
    holder.pop("_" + site.child.name, None)
    parent = site.expression.rsplit(f".{site.child.element}", 1)[0]
    missing = f"{parent}.{site.child.element}"
    assert any(p.expression == missing and p.code == "required" for p in problems_of(body)), (
        missing, problems_of(body))  # fmt: skip


OBSERVED = [r for r in VALID if r["resourceType"] == "Observation"
            and any(k.startswith("value") for k in r)]  # fmt: skip


@given(resource=st.sampled_from(OBSERVED), reason=st.sampled_from(["unknown", "asked-declined"]))
def test_a_value_with_a_data_absent_reason_is_refused(
    resource: dict[str, Any], reason: str
) -> None:
    body = {**resource, "dataAbsentReason": {"coding": [{"code": reason}]}}
    found = [p for p in problems_of(body) if p.expression == "Observation.dataAbsentReason"]
    assert [p.message[:6] for p in found] == ["obs-6:"]


def _with_contained(resource: dict[str, Any], extra: dict[str, Any]) -> tuple[dict[str, Any], str]:
    body = copy.deepcopy(resource)
    body.setdefault("contained", []).append(extra)
    return body, f"{body['resourceType']}.contained[{len(body['contained']) - 1}]"


def _referenced(body: dict[str, Any], ident: str) -> None:
    link = {"url": "http://example.org/see", "valueReference": {"reference": f"#{ident}"}}
    body.setdefault("extension", []).append(link)


@given(resource=st.sampled_from(VALID), ident=st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True))
def test_an_unreferenced_contained_resource_is_refused(
    resource: dict[str, Any], ident: str
) -> None:
    assume(all(c.get("id") != ident for c in resource.get("contained", [])))
    body, where = _with_contained(
        resource, {"resourceType": "Organization", "id": ident, "name": "x"}
    )
    assert "dom-3" in {p.message[:5] for p in problems_of(body) if p.expression == where}
    _referenced(body, ident)
    assert where not in expressions(problems_of(body))


@given(
    resource=st.sampled_from(VALID),
    meta=st.sampled_from([{"versionId": "2"}, {"lastUpdated": "2024-01-01T00:00:00Z"},
                          {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00+01:00"}]),
)  # fmt: skip
def test_a_contained_resource_with_a_version_is_refused(
    resource: dict[str, Any], meta: dict[str, str]
) -> None:
    body, where = _with_contained(
        resource, {"resourceType": "Practitioner", "id": "zz1", "meta": meta, "gender": "other"}
    )
    _referenced(body, "zz1")
    found = [p for p in problems_of(body) if p.expression == f"{where}.meta"]
    assert [p.message[:6] for p in found] == ["dom-4:"]


@given(resource=st.sampled_from(VALID))
def test_a_nested_contained_resource_is_refused(resource: dict[str, Any]) -> None:
    inner = {"resourceType": "Organization", "id": "in1", "name": "inner"}
    outer = {"resourceType": "Organization", "id": "out1", "name": "outer", "contained": [inner],
             "partOf": {"reference": "#in1"}}  # fmt: skip
    body, where = _with_contained(resource, outer)
    _referenced(body, "out1")
    assert "dom-2" in {p.message[:5] for p in problems_of(body) if p.expression == where}


@pytest.mark.parametrize(
    ("body", "expression", "code"),
    [
        ({"resourceType": "Patient", "gender": "robot"}, "Patient.gender", "code-invalid"),
        ({"resourceType": "Patient", "active": "yes"}, "Patient.active", "value"),
        ({"resourceType": "Patient", "x": 1}, "Patient.x", "structure"),
        ({"resourceType": "Patient", "name": {"family": "a"}}, "Patient.name", "structure"),
        ({"resourceType": "Patient", "name": [{}]}, "Patient.name[0]", "invariant"),
        ({"resourceType": "Observation", "status": "final"}, "Observation.code", "required"),
        ({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
          "component": [{"code": {"text": "a"}}, {"valueString": "b"}]},
         "Observation.component[1].code", "required"),
        ({"resourceType": "Group", "type": "person", "actual": True,
          "contained": [{"resourceType": "Group", "id": "g", "type": "person", "actual": True}]},
         "Group.contained[0]", "invariant"),
        ({"resourceType": "Patient", "text": {"status": "generated", "div": "<p>x</p>"}},
         "Patient.text.div", "invariant"),
        ({"resourceType": "Patient", "managingOrganization": {"reference": "#o"}},
         "Patient.managingOrganization.reference", "invariant"),
        ({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
          "subject": {"reference": "Practitioner/p"}},
         "Observation.subject.reference", "structure"),
    ],
)  # fmt: skip
def test_each_fault_names_its_element_and_class(
    body: dict[str, Any], expression: str, code: str
) -> None:
    problems = problems_of(body)
    assert (expression, code) in {(p.expression, p.code) for p in problems}, problems
    issues = outcome_issues(problems)
    assert all(i["severity"] == "error" and i["expression"] == [p.expression]
               for i, p in zip(issues, problems, strict=True))  # fmt: skip
