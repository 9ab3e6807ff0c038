"""A small, hand-checked data set whose values sit on the edges of every search parameter
kind and prefix (string case and prefixes, tokens with systems, references, date precision
and periods, quantity precision and units, compartments and labels)."""

from tests.api.data.port_contract.resources import (
    Resource,
    care_team,
    encounter,
    labelled,
    observation,
    patient,
    practitioner,
)

CATALOG: list[Resource] = [
    patient("p1", family="Smith", gender="female", birth="1980-05-17"),
    patient("p2", family="smithers", gender="male", birth="1980"),
    labelled(patient("p3", family="Jones", gender="other", birth="2001-02-03"), "R"),
    patient("p4"),
    practitioner("d1", family="House"),
    practitioner("d2", family="Grey"),
    care_team("ct1", "p1", "Practitioner/d1"),
    care_team("ct2", "p2", "Practitioner/d1", "Practitioner/d2"),
    care_team("ct3", "p3", "Practitioner/d2", status="inactive"),
    observation(
        "o1", "p1", category="vital-signs", code="8867-4", effective="2024-03-10T10:00:00Z",
        value=72.5, unit="/min", encounter="e1",
    ),
    observation(
        "o2", "p1", category="laboratory", code="2345-7", effective="2024-03-11",
        value=5.4, unit="mmol/L",
    ),
    labelled(
        observation(
            "o3", "p2", category="laboratory", code="2345-7",
            effective="2023-12-31T23:30:00-02:00", value=100, unit="mg/dL",
        ),
        "HIV",
    ),
    observation("o4", "p2", category="vital-signs", code="8480-6", value=120.04, unit="mm[Hg]"),
    labelled(observation("o5", "p3", category="exam", value=-3.25, unit="kg"), "PSY", "R"),
    encounter("e1", "p1", start="2024-03-10T09:00:00Z", end="2024-03-10T11:00:00Z"),
    encounter("e2", "p2", start="2024-01-01"),
    encounter("e3", "p3"),
]  # fmt: skip
