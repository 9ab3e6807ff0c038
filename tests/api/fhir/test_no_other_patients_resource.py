"""Property, on the real app: whatever form a resource's patient references take (letter
case, relative or absolute, this server's or another's URL, contained, a Group, a version,
whitespace, a logical identifier, none at all) and whatever its shape, no token short of a
reach of every patient ever receives a resource that may be another patient's, through read,
search, _include/_revinclude or export.

"May be another patient's" is judged loosely, independently of the implementation: any
reference naming `patient/<x>` in any case or URL, any identifier value, and any contained
patient count as naming <x>. A patient token of A (and a practitioner caring for A only)
may receive a patient-compartment resource only when everything it names is A."""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.fhir.validation import problems_of
from api.security.compartment import PATIENT_COMPARTMENT
from tests.api.fhir.conftest import DOC, FHIR, A, App, B, Resource
from tests.api.inprocess import BASE

SHOUTED = f"{BASE.upper()}/fhir"  # scheme and host compare without case, paths with it


# -- reference forms ------------------------------------------------------------------------

STORED_AS_PATIENT = ("{p}", "{p}/_history/1", f"{FHIR}/{{p}}", f"{SHOUTED}/{{p}}/_history/9")
REFUSED = (
    "patient/{id}",
    "PATIENT/{id}",
    " {p}",
    "{p} ",
    "{p}\n",
    "Patient/ {id}",
    f"{FHIR}/patient/{{id}}",
)
FOREIGN = (
    "http://other.example/fhir/{p}",
    f"{BASE}/FHIR/{{p}}",
    "https://example.org/{p}/_history/2",
    f"{BASE}:8443/fhir/{{p}}",
    "urn:uuid:6d2c7f5e-0b4a-4c2e-8f3e-1a2b3c4d5e6f",
)


@st.composite
def references(draw: st.DrawFn) -> Resource | None:
    """A value for a compartment element, naming A, B or nobody in some form."""
    target = draw(st.sampled_from([A, B]))
    kind = draw(
        st.sampled_from(
            [
                "stored",
                "stored",
                "refused",
                "foreign",
                "contained",
                "group",
                "logical",
                "practitioner",
                "none",
            ]
        )
    )
    forms = {"stored": STORED_AS_PATIENT, "refused": REFUSED, "foreign": FOREIGN}
    if kind in forms:
        form = draw(st.sampled_from(forms[kind]))
        return {"reference": form.format(p=f"Patient/{target}", id=target)}
    if kind == "contained":
        return {"reference": "#c1"}
    if kind == "group":
        return {"reference": "Group/some-group"}
    if kind == "logical":
        typed = draw(st.sampled_from([{}, {"type": "Patient"}]))
        return {**typed, "identifier": {"system": "urn:mrn", "value": target}}
    if kind == "practitioner":
        return {"reference": "Practitioner/x"}
    return None


def _set(body: Resource, path: str, value: Resource | None) -> None:
    """Put a Reference at a compartment element path (lists where FHIR has lists)."""
    if value is None:
        return
    head, _, rest = path.partition(".")
    if head in {"subject", "asserter"}:
        body[head] = value
    elif head in {"performer", "link", "member", "participant"}:
        inner = {"link": "other", "member": "entity", "participant": "member"}.get(head)
        item: Resource = {inner: value} if inner and rest else dict(value)
        if head == "link":
            item["type"] = "seealso"
        body.setdefault(head, []).append(item)


BASES: dict[str, Resource] = {
    "Observation": {"status": "final", "code": {"text": "x"}},
    "Encounter": {"status": "finished", "class": {"code": "AMB"}},
    "Condition": {"code": {"text": "x"}},
    "MedicationRequest": {
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "x"},
    },
    "CareTeam": {"status": "active"},
    "Group": {"type": "person", "actual": True},
}


@st.composite
def resources(draw: st.DrawFn) -> Resource:
    rtype = draw(st.sampled_from(sorted(BASES)))
    body: Resource = {"resourceType": rtype, **BASES[rtype]}
    for _, path in PATIENT_COMPARTMENT[rtype]:
        for _ in range(draw(st.integers(0, 2) if path != "subject" else st.just(1))):
            _set(body, path, draw(references()))
    contained = draw(st.sampled_from(["", "Patient", "Practitioner"]))
    if contained:
        body["contained"] = [
            {
                "resourceType": contained,
                "id": "c1",
                "identifier": [{"value": draw(st.sampled_from([A, B]))}],
            }
        ]
    return body


# -- the loose oracle -----------------------------------------------------------------------

_LOOSE_PATIENT = re.compile(r"patient/\s*([A-Za-z0-9\-.]+)", re.IGNORECASE)


def loosely_named(resource: Resource) -> set[str]:
    """Every patient the resource may be about, read as loosely as any reader would."""
    if resource.get("resourceType") == "Patient":
        return {resource["id"]} | {m for r in _strings(resource.get("link")) for m in _loose(r)}
    names: set[str] = set()
    contained = {c.get("id"): c for c in resource.get("contained", [])}
    for _, path in PATIENT_COMPARTMENT.get(resource["resourceType"], ()):
        for value in _values(resource, path.split(".")):
            text = str(value.get("reference", ""))
            names |= _loose(text)
            names |= {str(i.get("value")) for i in _as_list(value.get("identifier"))}
            item = contained.get(text[1:]) if text.startswith("#") else None
            if item is not None and item.get("resourceType") == "Patient":  # a contained
                # Practitioner names no patient, whatever its identifier says
                names |= {str(i.get("value")) for i in _as_list(item.get("identifier"))}
    return names


def _loose(text: str) -> set[str]:
    return set(_LOOSE_PATIENT.findall(text))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _values(node: Any, path: list[str]) -> Iterator[Resource]:
    if isinstance(node, list):
        for item in node:
            yield from _values(item, path)
    elif not path:
        if isinstance(node, dict):
            yield node
    elif isinstance(node, dict) and path[0] in node:
        yield from _values(node[path[0]], path[1:])


def assert_only_a(resources_received: list[Resource], how: str) -> None:
    for resource in resources_received:
        if resource["resourceType"] not in PATIENT_COMPARTMENT:
            continue
        named = loosely_named(resource)
        assert named == {A}, (how, resource["resourceType"], resource.get("id"), named)


def received(response: httpx.Response) -> list[Resource]:
    if response.status_code != 200:
        return []
    body = response.json()
    if body.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in body.get("entry", [])
            if e["resource"]["resourceType"] != "OperationOutcome"
        ]
    return [body]


def _refused_form(resource: Resource) -> bool:
    texts = [
        t
        for t in _strings(resource)
        if t.startswith((" ", "patient/", "PATIENT/"))
        or t.endswith((" ", "\n"))
        or "/ " in t
        or f"{FHIR}/patient/" in t
    ]
    return bool(texts)


def _not_valid_fhir(resource: Resource) -> bool:
    """Bodies the write validation refuses (it has tests of its own, tests/api/fhir/validation
    and the corpus): a missing subject (1..1 in Condition and MedicationRequest), a contained
    resource nothing references (dom-3), a reference to a type the element does not allow."""
    return bool(problems_of(resource))


SEARCHES = {
    "Observation": "_include=Observation:patient&_include=Observation:encounter",
    "Encounter": "_include=Encounter:patient",
    "Condition": "_include=Condition:patient",
    "MedicationRequest": "_include=MedicationRequest:patient",
    "CareTeam": "_include=CareTeam:patient",
    "Group": "",
}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(resources(), min_size=1, max_size=3))
def test_no_narrow_token_receives_another_patients_resource(
    app: App, batch: list[Resource]
) -> None:
    created: list[tuple[str, str]] = []
    for resource in batch:
        response = app.create(resource)
        if _refused_form(resource) or _not_valid_fhir(resource):
            assert response.status_code == 422, response.text
            continue
        assert response.status_code == 201, (response.text, resource)
        created.append((resource["resourceType"], response.json()["id"]))
    for kind in ("patient", "user"):
        headers = app.tokens[kind]
        for rtype, rid in created:
            assert_only_a(
                received(app.client.get(f"/fhir/{rtype}/{rid}", headers=headers)), f"{kind} read"
            )
            ids = ",".join(i for t, i in created if t == rtype)
            query = "&".join(q for q in (f"_id={ids}", SEARCHES[rtype]) if q)
            search = app.client.get(f"/fhir/{rtype}?{query}", headers=headers)
            assert search.status_code == 200, search.text
            assert_only_a(received(search), f"{kind} search")
        reverse = app.client.get(
            f"/fhir/Patient?_id={A},{B}&_revinclude=Observation:patient"
            "&_revinclude=Encounter:subject&_revinclude=Condition:patient",
            headers=headers,
        )
        assert_only_a(received(reverse), f"{kind} revinclude")


@pytest.mark.parametrize(
    "subject",
    [
        "Patient/{a}",
        "Patient/{a}/_history/1",
        f"{FHIR}/Patient/{{a}}",
        f"{SHOUTED}/Patient/{{a}}/_history/3",
    ],
)
def test_every_form_of_this_servers_reference_reaches_its_patient(app: App, subject: str) -> None:
    """Liveness: normalised on write, each is A's and only A's (and answered as relative)."""
    body = {
        "resourceType": "Observation",
        **BASES["Observation"],
        "subject": {"reference": subject.format(a=A)},
    }
    created = app.create(body)
    assert created.status_code == 201
    stored = created.json()
    assert stored["subject"] == {"reference": f"Patient/{A}"}
    url = f"/fhir/Observation/{stored['id']}"
    assert app.client.get(url, headers=app.tokens["patient"]).status_code == 200
    assert app.client.get(url, headers=app.tokens["user"]).status_code == 200
    other = app.bearer("prop-b", "patient/*.rs", patient=B)
    assert app.client.get(url, headers=other).status_code == 404
    found = app.client.get(
        f"/fhir/Observation?patient={A}&_id={stored['id']}", headers=app.tokens["patient"]
    ).json()
    assert found["total"] == 1


def test_a_put_that_drops_the_subject_narrows_instead_of_widening(app: App) -> None:
    body = {
        "resourceType": "Observation",
        **BASES["Observation"],
        "subject": {"reference": f"Patient/{A}"},
    }
    rid = app.create(body).json()["id"]
    url = f"/fhir/Observation/{rid}"
    writer = app.bearer("prop-pat-w", "patient/Observation.cruds", patient=A)
    dropped = {"resourceType": "Observation", "id": rid, **BASES["Observation"]}
    assert app.client.put(url, json=dropped, headers=writer).status_code == 403
    assert app.client.put(url, json=dropped, headers=app.tokens["system"]).status_code == 200
    for kind in ("patient", "user"):
        assert app.client.get(url, headers=app.tokens[kind]).status_code == 404
    other = app.bearer("prop-b", "patient/*.rs", patient=B)
    assert app.client.get(url, headers=other).status_code == 404
    assert app.client.get(url, headers=app.tokens["system"]).status_code == 200


def test_narrow_tokens_cannot_export(app: App) -> None:
    prefer = {"Prefer": "respond-async"}
    for sub, scope, claims in (
        ("prop-pat-x", "patient/*.rs export", {"patient": A}),
        ("prop-doc-x", "user/*.rs export", {"fhirUser": DOC}),
    ):
        headers = {**app.bearer(sub, scope, **claims), **prefer}
        for url in ("/fhir/Patient/$export", "/fhir/Group/some-group/$export"):
            assert app.client.get(url, headers=headers).status_code == 403
