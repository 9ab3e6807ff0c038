"""Encounters for the synthetic dataset (all within three years of the reference date)."""

from __future__ import annotations

import datetime
import random

from api.data.synthetic.codes import ATTENDER, ENCOUNTER_CLASSES, ENCOUNTER_TYPES
from api.data.synthetic.common import (
    EncounterInfo,
    PatientContext,
    Resource,
    coding,
    concept,
    fhir_datetime,
    reference,
    start_of_day,
)

WINDOW_DAYS = 3 * 365
IN_PROGRESS_RATE = 0.06
_Draft = tuple[str, datetime.datetime, datetime.datetime | None]


def _duration(rng: random.Random, class_code: str) -> datetime.timedelta:
    if class_code == "AMB":
        return datetime.timedelta(minutes=rng.choice(range(15, 65, 5)))
    if class_code == "EMER":
        return datetime.timedelta(minutes=rng.randint(120, 480))
    return datetime.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 20))


def _start(
    rng: random.Random, class_code: str, duration: datetime.timedelta, reference: datetime.datetime
) -> datetime.datetime:
    """Start such that the whole encounter ends before the reference instant."""
    offset = rng.randint(duration.days + 2, WINDOW_DAYS)
    day = reference - datetime.timedelta(days=offset)
    if class_code == "AMB":
        return day.replace(hour=rng.randint(8, 16), minute=rng.choice((0, 15, 30, 45)))
    return day.replace(hour=rng.randint(0, 23), minute=rng.randint(0, 59))


def _finished_draft(rng: random.Random, reference: datetime.datetime) -> _Draft:
    class_code = rng.choices(("AMB", "EMER", "IMP"), weights=(75, 15, 10))[0]
    duration = _duration(rng, class_code)
    start = _start(rng, class_code, duration, reference)
    return class_code, start, start + duration


def _drafts(rng: random.Random, reference: datetime.datetime) -> list[_Draft]:
    count = rng.choices((1, 2, 3, 4, 5), weights=(20, 25, 25, 17, 13))[0]
    drafts = sorted((_finished_draft(rng, reference) for _ in range(count)), key=lambda d: d[1])
    if rng.random() < IN_PROGRESS_RATE:
        start = reference - datetime.timedelta(hours=rng.randint(2, 30))
        previous_end = drafts[-2][2] if len(drafts) > 1 else None
        if previous_end is None or previous_end < start:
            drafts[-1] = (rng.choice(("EMER", "IMP")), start, None)
    return drafts


def _practitioner(rng: random.Random, ctx: PatientContext, class_code: str) -> str:
    if class_code == "AMB" and rng.random() < 0.7:
        return ctx.active_team[0]
    return rng.choice(ctx.active_team)


def _period(start: datetime.datetime, end: datetime.datetime | None) -> dict[str, str]:
    period = {"start": fhir_datetime(start)}
    if end is not None:
        period["end"] = fhir_datetime(end)
    return period


def _encounter(rng: random.Random, ctx: PatientContext, info: EncounterInfo) -> Resource:
    period = _period(info.start, info.end)
    return {
        "resourceType": "Encounter",
        "id": info.encounter_id,
        "status": "finished" if info.end is not None else "in-progress",
        "class": coding(ENCOUNTER_CLASSES[info.class_code]),
        "type": [concept(rng.choice(ENCOUNTER_TYPES[info.class_code]))],
        "subject": ctx.subject(),
        "participant": [
            {
                "type": [concept(ATTENDER)],
                "period": dict(period),
                "individual": reference("Practitioner", info.practitioner_id),
            }
        ],
        "period": period,
    }


def build_encounters(
    rng: random.Random, ctx: PatientContext, reference_date: datetime.date
) -> tuple[list[Resource], list[EncounterInfo]]:
    """Chronologically ordered encounters (enc-<patient>-1 is the earliest)."""
    resources: list[Resource] = []
    infos: list[EncounterInfo] = []
    for index, (class_code, start, end) in enumerate(_drafts(rng, start_of_day(reference_date)), 1):
        info = EncounterInfo(
            encounter_id=ctx.child_id("enc", index),
            class_code=class_code,
            start=start,
            end=end,
            practitioner_id=_practitioner(rng, ctx, class_code),
        )
        infos.append(info)
        resources.append(_encounter(rng, ctx, info))
    return resources, infos
