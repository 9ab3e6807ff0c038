"""Deterministic synthetic FHIR R4 clinical data.

``generate_dataset`` is a pure function: it draws every random number from one
``random.Random(seed)`` and never reads the clock, so equal arguments give
byte-identical output.  Resources are plain JSON dicts without
``meta.versionId`` / ``meta.lastUpdated`` and are ordered so that referenced
resources come first: all Practitioners, then per patient its Patient,
CareTeams, Encounters, Observations, Conditions and MedicationRequests.
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from api.data.synthetic.clinical import build_conditions, build_medication_requests
from api.data.synthetic.common import Resource, start_of_day
from api.data.synthetic.encounters import build_encounters
from api.data.synthetic.observations import build_observations
from api.data.synthetic.people import (
    assign_care_team_members,
    build_care_teams,
    build_patient,
    build_practitioners,
)
from api.data.synthetic.profile import assign_profile

__all__ = ["DEFAULT_REFERENCE_DATE", "dataset_summary", "generate_dataset", "practitioner_count"]

DEFAULT_REFERENCE_DATE = datetime.date(2026, 1, 1)


def practitioner_count(patients: int) -> int:
    """Number of Practitioners generated for a dataset of ``patients`` patients."""
    return max(20, patients // 8)


def _patient_resources(
    rng: random.Random,
    number: int,
    practitioner_ids: list[str],
    reference_date: datetime.date,
) -> list[Resource]:
    reference_instant = start_of_day(reference_date)
    patient, ctx = build_patient(rng, number, reference_date)
    assign_profile(rng, ctx, reference_date)
    assign_care_team_members(rng, ctx, practitioner_ids)
    encounters, infos = build_encounters(rng, ctx, reference_date)
    care_teams = build_care_teams(rng, ctx, infos[0].start.date())
    observations = build_observations(rng, ctx, infos, reference_instant)
    conditions, records = build_conditions(rng, ctx, infos, reference_instant)
    prescriptions = build_medication_requests(rng, ctx, infos, records, reference_instant)
    return [patient, *care_teams, *encounters, *observations, *conditions, *prescriptions]


def generate_dataset(
    patients: int = 200,
    seed: int = 42,
    reference_date: datetime.date = DEFAULT_REFERENCE_DATE,
) -> list[dict[str, Any]]:
    """Generate Practitioners plus ``patients`` patients with their clinical records.

    All clinical dates fall within three years before ``reference_date``.
    """
    if patients < 0:
        raise ValueError("patients must be >= 0")
    rng = random.Random(seed)
    practitioners = build_practitioners(rng, practitioner_count(patients))
    practitioner_ids = [resource["id"] for resource in practitioners]
    resources: list[Resource] = list(practitioners)
    for number in range(1, patients + 1):
        resources.extend(_patient_resources(rng, number, practitioner_ids, reference_date))
    return resources


def dataset_summary(resources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Count resources by ``resourceType`` (keys sorted alphabetically)."""
    counts = Counter(str(resource["resourceType"]) for resource in resources)
    return dict(sorted(counts.items()))
