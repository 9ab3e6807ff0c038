"""Conditions and MedicationRequests for the synthetic dataset."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from api.data.synthetic.codes import (
    COND_CATEGORY,
    COND_CLINICAL,
    COND_VERIFICATION,
    FORCED_CONDITIONS,
    MEDICATIONS,
    RXNORM,
    SNOMED,
    UNLINKED_MEDICATIONS,
    Code,
    ConditionSpec,
    MedicationSpec,
)
from api.data.synthetic.common import (
    EncounterInfo,
    PatientContext,
    Resource,
    add_years,
    apply_meta,
    concept,
    fhir_datetime,
    random_between,
    reference,
    start_of_day,
)

ACTIVE = Code(COND_CLINICAL, "active", "Active")
RESOLVED = Code(COND_CLINICAL, "resolved", "Resolved")
CONFIRMED = Code(COND_VERIFICATION, "confirmed", "Confirmed")
PROBLEM_LIST = Code(COND_CATEGORY, "problem-list-item", "Problem List Item")
ENCOUNTER_DIAGNOSIS = Code(COND_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
MAX_MEDICATIONS = 4
DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)
CONFIDENTIALITY_CODES = frozenset({"R", "V"})


@dataclass(frozen=True)
class ConditionRecord:
    spec: ConditionSpec
    condition_id: str
    encounter: EncounterInfo
    recorded: datetime.datetime
    resolved: bool
    forced: bool


# --------------------------------------------------------------------------- conditions


def _onset(
    rng: random.Random, ctx: PatientContext, spec: ConditionSpec, recorded: datetime.datetime
) -> datetime.datetime:
    """Onset after birth (and after the condition's minimum age), before recording."""
    lookback = datetime.timedelta(days=(20 if spec.chronic else 2) * 365)
    latest = recorded - DAY
    earliest = max(start_of_day(add_years(ctx.birth_date, spec.min_age)), recorded - lookback)
    earliest = max(min(earliest, latest), start_of_day(ctx.birth_date))
    return random_between(rng, earliest, latest)


def _condition_labels(rng: random.Random, ctx: PatientContext, spec: ConditionSpec) -> list[str]:
    """Sensitivity labels of the diagnosis plus at most one confidentiality code."""
    roll = rng.random()
    if set(spec.labels) & CONFIDENTIALITY_CODES:
        return list(spec.labels)
    if ctx.restricted or roll < 0.02:
        return [*spec.labels, "R"]
    return [*spec.labels, "V"] if roll < 0.03 else list(spec.labels)


def _condition(
    rng: random.Random,
    ctx: PatientContext,
    record: ConditionRecord,
    reference_instant: datetime.datetime,
) -> Resource:
    chronic_list = record.spec.chronic and rng.random() < 0.7
    acute_list = not record.spec.chronic and rng.random() < 0.3
    category = PROBLEM_LIST if chronic_list or acute_list else ENCOUNTER_DIAGNOSIS
    resource: Resource = {
        "resourceType": "Condition",
        "id": record.condition_id,
        "clinicalStatus": concept(RESOLVED if record.resolved else ACTIVE),
        "verificationStatus": concept(CONFIRMED),
        "category": [concept(category)],
        "code": concept(Code(SNOMED, record.spec.code, record.spec.display)),
        "subject": ctx.subject(),
        "encounter": reference("Encounter", record.encounter.encounter_id),
        "onsetDateTime": fhir_datetime(_onset(rng, ctx, record.spec, record.recorded)),
        "recordedDate": fhir_datetime(record.recorded),
        "recorder": reference("Practitioner", record.encounter.practitioner_id),
    }
    if record.resolved:
        abated = random_between(rng, record.recorded + DAY, reference_instant - DAY)
        resource["abatementDateTime"] = fhir_datetime(abated)
    return apply_meta(resource, security=_condition_labels(rng, ctx, record.spec))


def _record(
    rng: random.Random,
    ctx: PatientContext,
    index: int,
    spec: ConditionSpec,
    encounters: list[EncounterInfo],
    reference_instant: datetime.datetime,
) -> ConditionRecord:
    encounter = rng.choice(encounters)
    offset = datetime.timedelta(minutes=rng.randint(10, 50))
    recorded = min(encounter.start + offset, encounter.latest(reference_instant))
    can_resolve = not spec.chronic and reference_instant - recorded > 3 * DAY
    return ConditionRecord(
        spec=spec,
        condition_id=ctx.child_id("cond", index),
        encounter=encounter,
        recorded=recorded,
        resolved=can_resolve and rng.random() < 0.4,
        forced=FORCED_CONDITIONS.get(ctx.number) == spec.key,
    )


def build_conditions(
    rng: random.Random,
    ctx: PatientContext,
    encounters: list[EncounterInfo],
    reference_instant: datetime.datetime,
) -> tuple[list[Resource], list[ConditionRecord]]:
    records = [
        _record(rng, ctx, index, spec, encounters, reference_instant)
        for index, spec in enumerate(ctx.conditions, 1)
    ]
    resources = [_condition(rng, ctx, record, reference_instant) for record in records]
    return resources, records


# --------------------------------------------------------------------------- medications


def _plans(
    rng: random.Random, records: list[ConditionRecord]
) -> list[tuple[MedicationSpec, ConditionRecord | None]]:
    plans: list[tuple[MedicationSpec, ConditionRecord | None]] = []
    for record in records:
        if not record.spec.meds:
            continue
        if record.forced:
            plans.append((MEDICATIONS[record.spec.meds[0]], record))
        elif rng.random() < 0.75:
            plans.append((MEDICATIONS[rng.choice(record.spec.meds)], record))
    if rng.random() < 0.25:
        plans.append((MEDICATIONS[rng.choice(UNLINKED_MEDICATIONS)], None))
    return plans[:MAX_MEDICATIONS]


def _status(
    rng: random.Random, med: MedicationSpec, record: ConditionRecord | None, ongoing: bool
) -> str:
    if ongoing:  # prescribed during an encounter that is still in progress
        return "active"
    if med.acute or (record is not None and record.resolved):
        return rng.choices(("completed", "stopped"), weights=(70, 30))[0]
    return rng.choices(("active", "stopped", "completed"), weights=(80, 12, 8))[0]


def _dosage(med: MedicationSpec) -> list[Resource]:
    return [
        {
            "sequence": 1,
            "text": med.dosage,
            "timing": {"repeat": {"frequency": med.frequency, "period": 1, "periodUnit": "d"}},
            "asNeededBoolean": med.as_needed,
        }
    ]


def _medication_request(
    rng: random.Random,
    ctx: PatientContext,
    index: int,
    plan: tuple[MedicationSpec, ConditionRecord | None],
    encounter: EncounterInfo,
    reference_instant: datetime.datetime,
) -> Resource:
    med, record = plan
    base = record.recorded if record is not None else encounter.start
    authored = min(
        base + datetime.timedelta(minutes=rng.randint(5, 30)), reference_instant - MINUTE
    )
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": ctx.child_id("medrx", index),
        "status": _status(rng, med, record, encounter.end is None),
        "intent": "order",
        "medicationCodeableConcept": concept(Code(RXNORM, med.code, med.display)),
        "subject": ctx.subject(),
        "encounter": reference("Encounter", encounter.encounter_id),
        "authoredOn": fhir_datetime(authored),
        "requester": reference("Practitioner", encounter.practitioner_id),
        "dosageInstruction": _dosage(med),
    }
    if record is not None:
        resource["reasonReference"] = [reference("Condition", record.condition_id)]
    return apply_meta(resource, security=med.labels)


def build_medication_requests(
    rng: random.Random,
    ctx: PatientContext,
    encounters: list[EncounterInfo],
    records: list[ConditionRecord],
    reference_instant: datetime.datetime,
) -> list[Resource]:
    resources = []
    for index, plan in enumerate(_plans(rng, records), 1):
        encounter = plan[1].encounter if plan[1] is not None else rng.choice(encounters)
        resources.append(_medication_request(rng, ctx, index, plan, encounter, reference_instant))
    return resources
