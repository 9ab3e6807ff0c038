"""Hypothesis strategies: small stores of resources whose values collide often, and searches
(FHIR parameters, sort keys, reach, labels, granular constraints, paging) over them."""

from typing import Any

from hypothesis import strategies as st

from api.security.access import PatientReach, Reach
from tests.api.data.port_contract.resources import (
    care_team,
    labelled,
    observation,
    patient,
    practitioner,
)

PATIENTS = ("p1", "p2", "p3")
PRACTITIONERS = ("Practitioner/d1", "Practitioner/d2")
LABELS = ("R", "HIV")
FAMILIES = ("Smith", "smythe", "Ng", "Ñu")
DATES = ("1980", "1980-05-17", "2024-03", "2024-03-10T10:00:00Z", "2024-03-11T01:30:00+02:00")
TIMES = tuple(f"2026-01-0{day}T00:00:00Z" for day in range(1, 5))
CODES = ("8867-4", "2345-7")
CATEGORIES = ("laboratory", "vital-signs")
NUMBERS = ("5.4", "72.5", "-3.25", "100")  # stored; searched also at the edges of precision
SEARCHED_NUMBERS = (*NUMBERS, "5", "72", "73", "-3")
UNITS = ("", "||kg", "|http://unitsofmeasure.org|mg", "||mg")
PREFIXES = ("", "eq", "gt", "ge", "lt", "le")
Resource = dict[str, Any]


@st.composite
def a_patient(draw: st.DrawFn, rid: str) -> Resource:
    family = draw(st.sampled_from(("", *FAMILIES)))
    gender = draw(st.sampled_from(("", "female", "male")))
    birth = draw(st.sampled_from(("", *DATES[:2])))
    return patient(rid, family=family, gender=gender, birth=birth)


def _mostly(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """One of the values, or None one time in four."""
    return st.one_of(
        st.none(), st.sampled_from(values), st.sampled_from(values), st.sampled_from(values)
    )


@st.composite
def an_observation(draw: st.DrawFn, rid: str) -> Resource:
    drawn = {
        "category": draw(_mostly(CATEGORIES)),
        "code": draw(_mostly(CODES)),
        "effective": draw(_mostly(DATES[2:])),
        "value": draw(_mostly(tuple(float(number) for number in NUMBERS))),
        "unit": draw(st.sampled_from(("kg", "mg"))),
    }
    fields = {name: value for name, value in drawn.items() if value is not None}
    body = observation(rid, draw(st.sampled_from((*PATIENTS, "p9"))), **fields)
    return draw(st.sampled_from(OWNERS)).shape(body)


class _Owner:
    """How an observation's compartment elements name its patient: most often its subject
    alone; else a shape that leaves it to nobody (system scopes only)."""

    def __init__(self, subject: Any = "keep", performer: str = "") -> None:
        self.subject, self.performer = subject, performer

    def shape(self, body: Resource) -> Resource:
        shaped = dict(body)
        if self.subject is None:
            del shaped["subject"]
        elif self.subject != "keep":
            shaped["subject"] = self.subject
        if self.performer:
            shaped["performer"] = [{"reference": self.performer}]
        return shaped


OWNERS = (
    *(_Owner(),) * 4,
    _Owner(performer="Practitioner/d1"),
    _Owner(performer="Patient/p1"),  # several patients when the subject is another one
    _Owner(subject=None),
    _Owner(subject={"reference": "Group/g1"}),
    _Owner(subject={"reference": "#contained"}),
    _Owner(subject={"identifier": {"value": "p1"}}),
    _Owner(subject={"reference": "Group/g1"}, performer="Patient/p2"),  # then p2's
)


@st.composite
def a_care_team(draw: st.DrawFn, rid: str) -> Resource:
    members = draw(st.lists(st.sampled_from(PRACTITIONERS), max_size=2, unique=True))
    status = draw(st.sampled_from(("active", "inactive")))
    return care_team(rid, draw(st.sampled_from(PATIENTS)), *members, status=status)


def _labelled(resource: st.SearchStrategy[Resource]) -> st.SearchStrategy[Resource]:
    labels = st.lists(st.sampled_from(LABELS), max_size=2, unique=True)
    return st.tuples(resource, labels).map(lambda pair: labelled(pair[0], *pair[1]))


@st.composite
def stored_resources(draw: st.DrawFn) -> list[tuple[Resource, str, bool]]:
    """(resource, when saved, deleted afterwards) for a few of each type."""
    resources: list[Resource] = [draw(_labelled(a_patient(rid))) for rid in PATIENTS]
    resources += [practitioner("d1"), practitioner("d2", family="Smith")]
    resources += [draw(_labelled(an_observation(f"o{n}"))) for n in range(draw(st.integers(0, 7)))]
    resources += [draw(a_care_team(f"ct{n}")) for n in range(draw(st.integers(0, 3)))]
    return [
        (resource, draw(st.sampled_from(TIMES)), draw(st.booleans()) and draw(st.booleans()))
        for resource in resources
    ]


def _prefixed(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(PREFIXES), st.sampled_from(values)).map("".join)


def _quantity() -> st.SearchStrategy[str]:
    return st.tuples(_prefixed(SEARCHED_NUMBERS), st.sampled_from(UNITS)).map("".join)


def _one_or_two(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=2).map(",".join)


PARAMS: dict[str, dict[str, st.SearchStrategy[str]]] = {
    "Patient": {
        "family": _one_or_two(st.sampled_from(("sm", "SMI", "smith", "n", "ñ", "x"))),
        "gender": _one_or_two(st.sampled_from(("female", "male", "other"))),
        "birthdate": _one_or_two(_prefixed(DATES[:3])),
        "_id": _one_or_two(st.sampled_from(PATIENTS)),
        "_lastUpdated": _prefixed(TIMES),
    },
    "Observation": {
        "patient": _one_or_two(st.sampled_from(PATIENTS)),
        "category": _one_or_two(st.sampled_from(CATEGORIES)),
        "code": _one_or_two(st.sampled_from((*CODES, "http://loinc.org|8867-4"))),
        "date": _one_or_two(_prefixed(DATES[2:])),
        "value-quantity": _one_or_two(_quantity()),
    },
    "CareTeam": {
        "status": st.sampled_from(("active", "inactive")),
        "participant": _one_or_two(st.sampled_from(PRACTITIONERS)),
        "patient": st.sampled_from(PATIENTS),
    },
    "Practitioner": {"name": st.sampled_from(("smi", "h")), "_id": st.just("d1")},
}
SORTS = {
    "Patient": ("_id", "-_id", "family", "-birthdate", "_lastUpdated", "-_lastUpdated,family"),
    "Observation": ("date", "-date", "-_lastUpdated"),
    "CareTeam": ("-_id",),
    "Practitioner": ("name",),
}


def params_of(resource_type: str, max_size: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.sampled_from(sorted(PARAMS[resource_type]))
    pairs = names.flatmap(lambda name: st.tuples(st.just(name), PARAMS[resource_type][name]))
    return st.lists(pairs, max_size=max_size)


def reaches() -> st.SearchStrategy[PatientReach]:
    return st.one_of(
        st.just(PatientReach(Reach.ALL)),
        st.just(PatientReach(Reach.NONE)),
        st.sampled_from(PATIENTS).map(lambda p: PatientReach(Reach.ONE, patient=p)),
        st.sampled_from(PRACTITIONERS).map(lambda d: PatientReach(Reach.CARE_TEAM, practitioner=d)),
    )
