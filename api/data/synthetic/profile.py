"""Per-patient clinical profile: diagnoses, lifestyle and body size."""

from __future__ import annotations

import datetime
import random

from api.data.synthetic.codes import (
    CONDITIONS,
    CONDITIONS_BY_KEY,
    FORCED_CONDITIONS,
    ConditionSpec,
)
from api.data.synthetic.common import PatientContext

MEAN_HEIGHT_CM: dict[str, tuple[float, float]] = {
    "male": (176.0, 7.0),
    "female": (163.0, 6.5),
    "other": (170.0, 8.0),
    "unknown": (170.0, 8.0),
}


def _choose_conditions(rng: random.Random, ctx: PatientContext, age: int) -> list[ConditionSpec]:
    """0-4 weighted diagnoses the patient was old enough for during the last three years."""
    count = rng.choices((0, 1, 2, 3, 4), weights=(25, 30, 25, 12, 8))[0]
    chosen: list[ConditionSpec] = []
    forced = FORCED_CONDITIONS.get(ctx.number)
    if forced is not None:
        chosen.append(CONDITIONS_BY_KEY[forced])
    eligible = [spec for spec in CONDITIONS if spec.min_age <= age - 3 and spec not in chosen]
    while len(chosen) < count and eligible:
        pick = rng.choices(eligible, weights=[spec.weight for spec in eligible])[0]
        chosen.append(pick)
        eligible.remove(pick)
    return chosen


def _smoking(rng: random.Random, ctx: PatientContext, age: int) -> str:
    if age < 14:
        return "never"
    if ctx.has("copd"):
        return rng.choice(("ex", "current"))
    return rng.choices(("never", "ex", "current"), weights=(60, 22, 18))[0]


def _alcohol(rng: random.Random, ctx: PatientContext, age: int) -> str:
    if age < 16:
        return "none"
    if ctx.has("alcoholism"):
        return "heavy"
    return rng.choices(("none", "occasional", "moderate", "heavy"), weights=(30, 35, 28, 7))[0]


def _body_size(rng: random.Random, ctx: PatientContext) -> tuple[float, float]:
    """Adult height (cm) and adult BMI (kg/m2)."""
    mean, spread = MEAN_HEIGHT_CM[ctx.gender]
    height = min(200.0, max(145.0, rng.gauss(mean, spread)))
    bmi = rng.gauss(26.5, 4.5) + (3.0 if ctx.has("dm2") else 0.0)
    return round(height, 1), round(min(45.0, max(17.5, bmi)), 1)


def assign_profile(rng: random.Random, ctx: PatientContext, reference_date: datetime.date) -> None:
    age = ctx.age_on(reference_date)
    ctx.conditions = _choose_conditions(rng, ctx, age)
    ctx.smoking = _smoking(rng, ctx, age)
    ctx.alcohol = _alcohol(rng, ctx, age)
    ctx.height_cm, ctx.bmi = _body_size(rng, ctx)
