"""Enrichment before pseudonymisation (pure): facts about the patients an event touched and
about the principal, reduced to what detection needs — pseudonyms of VIP and staff patients
and one boolean for a shared family name. No name ever leaves this function."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evidence.core import Pseudonymizer

VIP, STAFF = "vip", "staff"


@dataclass(frozen=True, slots=True)
class PatientFacts:
    family: str  # lower-cased, "" when unknown
    flags: frozenset[str]  # e.g. {"vip"}, {"staff"}


Enrichment = dict[str, Any]


def enrich(
    event: Mapping[str, Any],
    patient_facts: Callable[[str], PatientFacts | None],
    principal_family: Callable[[str], str],
    pseudonymizer: Pseudonymizer,
) -> Enrichment:
    """`event` is the raw outbox event (raw patient ids, fhir_user)."""
    facts = {pid: patient_facts(pid) for pid in event.get("patient_ids", ())}
    known = {pid: fact for pid, fact in facts.items() if fact is not None}
    family = principal_family(str(event.get("fhir_user", ""))) if event.get("fhir_user") else ""
    return {
        "vip_patients": sorted(
            pseudonymizer.patient(p) for p, f in known.items() if VIP in f.flags
        ),
        "staff_patients": sorted(
            pseudonymizer.patient(p) for p, f in known.items() if STAFF in f.flags
        ),
        "same_surname": bool(family) and any(f.family == family for f in known.values()),
    }
