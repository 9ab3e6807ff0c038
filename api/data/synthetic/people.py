"""Practitioners, Patients and CareTeams for the synthetic dataset."""

from __future__ import annotations

import datetime
import random
import re

from api.data.synthetic.codes import (
    CARE_TEAM_CATEGORIES,
    DEGREES,
    FORCED_CONDITIONS,
    FORCED_RESTRICTED,
    FORCED_TAGS,
    IDENTIFIER_TYPE,
    MRN_SYSTEM,
    NPI_SYSTEM,
    PRIMARY_CARE_ROLE,
    SPECIALIST_ROLES,
    Code,
)
from api.data.synthetic.common import (
    PatientContext,
    Resource,
    apply_meta,
    concept,
    fhir_datetime,
    random_date,
    reference,
    start_of_day,
)
from api.data.synthetic.names import (
    CITIES,
    FAMILY_NAMES,
    FEMALE_GIVEN_NAMES,
    MALE_GIVEN_NAMES,
    STREET_NAMES,
)

EARLIEST_BIRTH = datetime.date(1930, 1, 1)
LATEST_BIRTH = datetime.date(2020, 12, 31)
MRN_TYPE = Code(IDENTIFIER_TYPE, "MR", "Medical record number")
SPECIALTY_BY_CONDITION: dict[str, str] = {
    "htn": "17561000",
    "hld": "17561000",
    "dm2": "61894003",
    "asthma": "41672002",
    "copd": "41672002",
    "depression": "80584001",
    "alcoholism": "80584001",
    "ra": "45440000",
}


# --------------------------------------------------------------------------- names


def _given_name(rng: random.Random, gender: str) -> str:
    if gender == "male":
        return rng.choice(MALE_GIVEN_NAMES)
    if gender == "female":
        return rng.choice(FEMALE_GIVEN_NAMES)
    return rng.choice(MALE_GIVEN_NAMES + FEMALE_GIVEN_NAMES)


def _phone(rng: random.Random) -> str:
    """Fictional North-American number in the reserved 555-01xx range."""
    return f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"


def _email(given: str, family: str, number: int, domain: str) -> str:
    local = re.sub(r"[^a-z0-9.]", "", f"{given}.{family}".lower())
    return f"{local}{number}@{domain}"


# --------------------------------------------------------------------------- practitioners


def _luhn_check_digit(payload: str) -> int:
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10


def _npi(rng: random.Random, used: set[str]) -> str:
    """Unique 10-digit NPI with a valid Luhn check digit (prefix 80840)."""
    while True:
        base = f"{rng.choice('12')}{rng.randint(0, 99_999_999):08d}"
        npi = base + str(_luhn_check_digit("80840" + base))
        if npi not in used:
            used.add(npi)
            return npi


def _practitioner(rng: random.Random, index: int, used_npis: set[str]) -> Resource:
    gender = rng.choice(("male", "female"))
    given = _given_name(rng, gender)
    family = rng.choice(FAMILY_NAMES)
    degree = DEGREES[0] if rng.random() < 0.85 else DEGREES[1]
    return {
        "resourceType": "Practitioner",
        "id": f"prac-{index:04d}",
        "active": True,
        "identifier": [{"system": NPI_SYSTEM, "value": _npi(rng, used_npis)}],
        "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr."]}],
        "gender": gender,
        "telecom": [
            {"system": "phone", "value": _phone(rng), "use": "work"},
            {
                "system": "email",
                "value": _email(given, family, index, "clinic.example.org"),
                "use": "work",
            },
        ],
        "qualification": [{"code": concept(degree)}],
    }


def build_practitioners(rng: random.Random, count: int) -> list[Resource]:
    used_npis: set[str] = set()
    return [_practitioner(rng, index, used_npis) for index in range(1, count + 1)]


# --------------------------------------------------------------------------- patients


def _birth_bounds(reference_date: datetime.date) -> tuple[datetime.date, datetime.date]:
    """Births lie in 1930-2020 and at least three years before the reference date."""
    latest = min(LATEST_BIRTH, reference_date - datetime.timedelta(days=3 * 366 + 30))
    earliest = min(EARLIEST_BIRTH, latest - datetime.timedelta(days=80 * 365))
    return earliest, latest


def _birth_date(rng: random.Random, number: int, reference_date: datetime.date) -> datetime.date:
    earliest, latest = _birth_bounds(reference_date)
    if number in FORCED_CONDITIONS:  # forced diagnoses need an adult patient
        latest = min(latest, reference_date - datetime.timedelta(days=30 * 365))
        earliest = min(earliest, latest - datetime.timedelta(days=40 * 365))
    return random_date(rng, earliest, latest)


def _patient_gender(rng: random.Random) -> str:
    return rng.choices(("female", "male", "other", "unknown"), weights=(49, 49, 1, 1))[0]


def _patient_tags(rng: random.Random, number: int) -> list[str]:
    roll = rng.random()
    tags = ["vip"] if roll < 0.025 else ["staff"] if roll < 0.06 else []
    forced = FORCED_TAGS.get(number)
    return [forced] if forced else tags


def _address(rng: random.Random) -> dict[str, object]:
    city, state, prefix = rng.choice(CITIES)
    return {
        "use": "home",
        "type": "physical",
        "line": [f"{rng.randint(1, 9899)} {rng.choice(STREET_NAMES)}"],
        "city": city,
        "state": state,
        "postalCode": f"{prefix}{rng.randint(0, 99):02d}",
        "country": "US",
    }


def _patient_name(rng: random.Random, gender: str) -> tuple[list[str], str]:
    given = [_given_name(rng, gender)]
    if rng.random() < 0.3:
        given.append(_given_name(rng, gender))
    return given, rng.choice(FAMILY_NAMES)


def build_patient(
    rng: random.Random, number: int, reference_date: datetime.date
) -> tuple[Resource, PatientContext]:
    gender = _patient_gender(rng)
    given, family = _patient_name(rng, gender)
    ctx = PatientContext(
        number=number,
        patient_id=f"pat-{number:05d}",
        given=given[0],
        family=family,
        gender=gender,
        birth_date=_birth_date(rng, number, reference_date),
        restricted=number in FORCED_RESTRICTED or rng.random() < 0.025,
    )
    resource: Resource = {
        "resourceType": "Patient",
        "id": ctx.patient_id,
        "active": True,
        "identifier": [
            {
                "use": "usual",
                "type": concept(MRN_TYPE),
                "system": MRN_SYSTEM,
                "value": f"MRN{number:07d}",
            }
        ],
        "name": [{"use": "official", "family": family, "given": given}],
        "gender": gender,
        "birthDate": ctx.birth_date.isoformat(),
        "telecom": [
            {"system": "phone", "value": _phone(rng), "use": rng.choice(("home", "mobile"))},
            {"system": "email", "value": _email(given[0], family, number, "example.com")},
        ],
        "address": [_address(rng)],
    }
    tags = _patient_tags(rng, number)
    apply_meta(resource, security=["R"] if ctx.restricted else [], tags=tags)
    return resource, ctx


# --------------------------------------------------------------------------- care teams


def assign_care_team_members(
    rng: random.Random, ctx: PatientContext, practitioner_ids: list[str]
) -> None:
    """Pick the active team (first member = primary care) and maybe a former team."""
    size = rng.choice((1, 2, 2, 3))
    ctx.active_team = rng.sample(practitioner_ids, size)
    if rng.random() < 0.3:
        others = [pid for pid in practitioner_ids if pid not in ctx.active_team]
        ctx.former_team = rng.sample(others, rng.randint(1, 2))


def _specialist_role(rng: random.Random, ctx: PatientContext) -> Code:
    wanted = [SPECIALTY_BY_CONDITION.get(spec.key) for spec in ctx.conditions]
    candidates = [role for role in SPECIALIST_ROLES if role.code in wanted] or [SPECIALIST_ROLES[0]]
    return rng.choice(candidates)


def _participants(rng: random.Random, ctx: PatientContext, members: list[str]) -> list[Resource]:
    participants = []
    for position, member in enumerate(members):
        role = PRIMARY_CARE_ROLE if position == 0 else _specialist_role(rng, ctx)
        participants.append({"role": [concept(role)], "member": reference("Practitioner", member)})
    return participants


def _care_team(
    rng: random.Random,
    ctx: PatientContext,
    index: int,
    members: list[str],
    period: tuple[datetime.date, datetime.date | None],
) -> Resource:
    active = period[1] is None
    label = "care team" if active else "former care team"
    period_json = {"start": fhir_datetime(start_of_day(period[0]))}
    if period[1] is not None:
        period_json["end"] = fhir_datetime(start_of_day(period[1]))
    return {
        "resourceType": "CareTeam",
        "id": ctx.child_id("ct", index),
        "status": "active" if active else "inactive",
        "category": [concept(rng.choice(CARE_TEAM_CATEGORIES))],
        "name": f"{ctx.given} {ctx.family} {label}",
        "subject": ctx.subject(),
        "period": period_json,
        "participant": _participants(rng, ctx, members),
    }


def build_care_teams(
    rng: random.Random, ctx: PatientContext, first_encounter: datetime.date
) -> list[Resource]:
    lead = datetime.timedelta(days=rng.randint(30, 1500))
    active_start = max(ctx.birth_date, first_encounter - lead)
    teams = [_care_team(rng, ctx, 1, ctx.active_team, (active_start, None))]
    if ctx.former_team:
        gap = datetime.timedelta(days=rng.randint(180, 2000))
        former_start = max(ctx.birth_date, active_start - gap)
        teams.append(_care_team(rng, ctx, 2, ctx.former_team, (former_start, active_start)))
    return teams
