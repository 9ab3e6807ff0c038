"""Shared helpers and per-patient state for the synthetic data generator."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from api.data.synthetic.codes import PATIENT_TAGS, SECURITY_LABELS, UCUM, Code, ConditionSpec

Resource = dict[str, Any]
UTC = datetime.UTC


def coding(code: Code) -> dict[str, str]:
    return {"system": code.system, "code": code.code, "display": code.display}


def concept(code: Code) -> dict[str, Any]:
    return {"coding": [coding(code)], "text": code.display}


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def fhir_datetime(moment: datetime.datetime) -> str:
    """Render an aware datetime as a FHIR dateTime/instant with a UTC offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=UTC)


def random_between(
    rng: random.Random, start: datetime.datetime, end: datetime.datetime
) -> datetime.datetime:
    """Uniform datetime in [start, end] at one-minute resolution."""
    minutes = max(0, int((end - start).total_seconds() // 60))
    return start + datetime.timedelta(minutes=rng.randint(0, minutes))


def random_date(rng: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    return start + datetime.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year + years, day=28)


def age_on(birth: datetime.date, day: datetime.date) -> int:
    before_birthday = (day.month, day.day) < (birth.month, birth.day)
    return day.year - birth.year - int(before_birthday)


def apply_meta(
    resource: Resource, security: Iterable[str] = (), tags: Iterable[str] = ()
) -> Resource:
    """Attach meta.security / meta.tag codings (deduplicated, order kept) if any."""
    labels = list(dict.fromkeys(security))
    flags = list(dict.fromkeys(tags))
    meta: dict[str, Any] = {}
    if flags:
        meta["tag"] = [coding(PATIENT_TAGS[flag]) for flag in flags]
    if labels:
        meta["security"] = [coding(SECURITY_LABELS[label]) for label in labels]
    if meta:
        resource["meta"] = meta
    return resource


@dataclass
class PatientContext:
    """Facts about one synthetic patient that later builders need."""

    number: int
    patient_id: str
    given: str
    family: str
    gender: str
    birth_date: datetime.date
    restricted: bool
    conditions: list[ConditionSpec] = field(default_factory=list)
    smoking: str = "never"
    alcohol: str = "none"
    height_cm: float = 170.0
    bmi: float = 24.0
    active_team: list[str] = field(default_factory=list)
    former_team: list[str] = field(default_factory=list)

    def has(self, condition_key: str) -> bool:
        return any(spec.key == condition_key for spec in self.conditions)

    def child_id(self, prefix: str, index: int) -> str:
        return f"{prefix}-{self.number:05d}-{index}"

    def subject(self) -> dict[str, str]:
        return reference("Patient", self.patient_id)

    def age_on(self, day: datetime.date) -> int:
        return age_on(self.birth_date, day)


@dataclass(frozen=True)
class EncounterInfo:
    """What observations, conditions and prescriptions need to know of an encounter."""

    encounter_id: str
    class_code: str
    start: datetime.datetime
    end: datetime.datetime | None
    practitioner_id: str

    def latest(self, reference_instant: datetime.datetime) -> datetime.datetime:
        """Latest moment at which something can happen during this encounter."""
        if self.end is not None:
            return self.end
        return reference_instant - datetime.timedelta(minutes=1)
