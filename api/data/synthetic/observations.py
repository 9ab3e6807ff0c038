"""Observations (vital signs, labs, social history, surveys) per encounter."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from typing import Any

from api.data.synthetic.codes import FORCED_HIV_SCREEN, LOINC, Code
from api.data.synthetic.common import (
    EncounterInfo,
    PatientContext,
    Resource,
    apply_meta,
    concept,
    fhir_datetime,
    quantity,
    reference,
)
from api.data.synthetic.obs_codes import (
    ALCOHOL_USE,
    ALCOHOL_VALUES,
    CATEGORIES,
    HIV_RESULTS,
    HIV_SCREEN,
    HIV_VIRAL_LOAD,
    LABS,
    PHQ9_TOTAL,
    SMOKING_STATUS,
    SMOKING_VALUES,
    VITAL_SIGNS,
    QuantitySpec,
)

CHILD_VITAL_RANGES: dict[str, tuple[float, float]] = {
    "heart_rate": (75, 115),
    "resp_rate": (18, 26),
    "systolic": (94, 114),
    "diastolic": (55, 74),
}
LAB_RATE_BY_CLASS: dict[str, float] = {"AMB": 0.4, "EMER": 0.7, "IMP": 1.0}
LABS_BY_CONDITION: dict[str, tuple[str, ...]] = {
    "dm2": ("glucose", "hba1c"),
    "hld": ("cholesterol",),
    "htn": ("creatinine",),
}
BASIC_VITALS = ("heart_rate", "systolic", "diastolic", "temperature", "resp_rate")


def _as_code(spec: QuantitySpec) -> Code:
    return Code(LOINC, spec.code, spec.display)


def _round(value: float, decimals: int) -> float | int:
    return round(value) if decimals == 0 else round(value, decimals)


def _range(spec: QuantitySpec, ctx: PatientContext) -> tuple[float, float]:
    for condition_key, bounds in spec.disease_ranges.items():
        if ctx.has(condition_key):
            return bounds
    return spec.low, spec.high


@dataclass
class _Builder:
    """Accumulates one patient's observations with sequential ids."""

    rng: random.Random
    ctx: PatientContext
    reference: datetime.datetime
    resources: list[Resource] = field(default_factory=list)

    def add(
        self,
        enc: EncounterInfo,
        category: str,
        code: Code,
        value: tuple[str, Any],
        labels: tuple[str, ...] = (),
    ) -> None:
        effective, issued = self._times(enc, category)
        resource: Resource = {
            "resourceType": "Observation",
            "id": self.ctx.child_id("obs", len(self.resources) + 1),
            "status": "final",
            "category": [concept(CATEGORIES[category])],
            "code": concept(code),
            "subject": self.ctx.subject(),
            "encounter": reference("Encounter", enc.encounter_id),
            "effectiveDateTime": fhir_datetime(effective),
            "issued": fhir_datetime(issued),
            "performer": [reference("Practitioner", enc.practitioner_id)],
            value[0]: value[1],
        }
        extra = () if {"R", "V"} & set(labels) else self._random_label()
        self.resources.append(apply_meta(resource, security=labels + extra))

    def _times(
        self, enc: EncounterInfo, category: str
    ) -> tuple[datetime.datetime, datetime.datetime]:
        latest = enc.latest(self.reference)
        minutes = self.rng.randint(5, 40)
        effective = min(enc.start + datetime.timedelta(minutes=minutes), latest)
        delay = self.rng.randint(60, 480) if category == "laboratory" else self.rng.randint(1, 15)
        ceiling = self.reference - datetime.timedelta(minutes=1)
        issued = max(effective, min(effective + datetime.timedelta(minutes=delay), ceiling))
        return effective, issued

    def _random_label(self) -> tuple[str, ...]:
        roll = self.rng.random()
        return ("R",) if roll < 0.008 else ("V",) if roll < 0.012 else ()

    def add_quantity(
        self,
        enc: EncounterInfo,
        category: str,
        spec: QuantitySpec,
        value: float | int,
        labels: tuple[str, ...] = (),
    ) -> None:
        self.add(
            enc, category, _as_code(spec), ("valueQuantity", quantity(value, spec.unit)), labels
        )

    def add_coded(
        self,
        enc: EncounterInfo,
        category: str,
        code: Code,
        answer: Code,
        labels: tuple[str, ...] = (),
    ) -> None:
        self.add(enc, category, code, ("valueCodeableConcept", concept(answer)), labels)


# --------------------------------------------------------------------------- vital signs


def _vital_value(b: _Builder, spec: QuantitySpec, enc: EncounterInfo, age: int) -> float | int:
    low, high = _range(spec, b.ctx)
    if age < 12 and spec.key in CHILD_VITAL_RANGES:
        low, high = CHILD_VITAL_RANGES[spec.key]
    if spec.key == "temperature" and enc.class_code == "EMER" and b.rng.random() < 0.3:
        low, high = 37.6, 39.4
    return _round(b.rng.uniform(low, high), spec.decimals)


def _body_measures(b: _Builder, enc: EncounterInfo, age: int) -> None:
    growth = 1.0 if age >= 18 else min(1.0, 0.45 + 0.032 * age)
    height = round(b.ctx.height_cm * growth, 1)
    base_bmi = b.ctx.bmi if age >= 18 else 15.5 + 0.15 * age + (b.ctx.bmi - 24) * 0.3
    weight = round((base_bmi + b.rng.uniform(-0.4, 0.4)) * (height / 100) ** 2, 1)
    bmi = round(weight / (height / 100) ** 2, 1)
    for key, value in (("height", height), ("weight", weight), ("bmi", bmi)):
        b.add_quantity(enc, "vital-signs", VITAL_SIGNS[key], value)


def _vital_signs(b: _Builder, enc: EncounterInfo, age: int) -> None:
    for key in BASIC_VITALS:
        spec = VITAL_SIGNS[key]
        b.add_quantity(enc, "vital-signs", spec, _vital_value(b, spec, enc, age))
    if b.rng.random() < 0.65:
        _body_measures(b, enc, age)


# --------------------------------------------------------------------------- laboratory


def _lab_panel(b: _Builder) -> list[QuantitySpec]:
    wanted = [key for cond, keys in LABS_BY_CONDITION.items() if b.ctx.has(cond) for key in keys]
    wanted += b.rng.sample(list(LABS), b.rng.randint(2, 4))
    return [spec for key, spec in LABS.items() if key in wanted]


def _hiv_labs(b: _Builder, enc: EncounterInfo, age: int, first: bool) -> None:
    if b.ctx.has("hiv"):
        copies = int(10 ** b.rng.uniform(1.3, 4.7))
        b.add_quantity(enc, "laboratory", HIV_VIRAL_LOAD, copies, labels=("HIV", "V"))
        return
    forced = first and b.ctx.number in FORCED_HIV_SCREEN
    if forced or (age >= 15 and b.rng.random() < 0.04):
        b.add_coded(enc, "laboratory", HIV_SCREEN, HIV_RESULTS[False], labels=("HIV",))


def _laboratory(b: _Builder, enc: EncounterInfo, age: int, first: bool) -> None:
    forced_screen = first and b.ctx.number in FORCED_HIV_SCREEN
    if b.rng.random() >= LAB_RATE_BY_CLASS[enc.class_code] and not forced_screen:
        return
    for spec in _lab_panel(b):
        low, high = _range(spec, b.ctx)
        b.add_quantity(enc, "laboratory", spec, _round(b.rng.uniform(low, high), spec.decimals))
    _hiv_labs(b, enc, age, first)


# --------------------------------------------------------------------------- social / survey


def _social_history(b: _Builder, enc: EncounterInfo, age: int, first: bool) -> None:
    if first or b.rng.random() < 0.2:
        b.add_coded(enc, "social-history", SMOKING_STATUS, SMOKING_VALUES[b.ctx.smoking])
    if first and age >= 12:
        b.add_coded(enc, "social-history", ALCOHOL_USE, ALCOHOL_VALUES[b.ctx.alcohol])


def _survey(b: _Builder, enc: EncounterInfo, age: int) -> None:
    rate = 0.6 if b.ctx.has("depression") else 0.12
    if enc.class_code != "AMB" or age < 12 or b.rng.random() >= rate:
        return
    low, high = _range(PHQ9_TOTAL, b.ctx)
    b.add_quantity(enc, "survey", PHQ9_TOTAL, b.rng.randint(int(low), int(high)))


def build_observations(
    rng: random.Random,
    ctx: PatientContext,
    encounters: list[EncounterInfo],
    reference_instant: datetime.datetime,
) -> list[Resource]:
    builder = _Builder(rng, ctx, reference_instant)
    for position, enc in enumerate(encounters):
        age = ctx.age_on(enc.start.date())
        first = position == 0
        _vital_signs(builder, enc, age)
        _laboratory(builder, enc, age, first)
        _social_history(builder, enc, age, first)
        _survey(builder, enc, age)
    return builder.resources
