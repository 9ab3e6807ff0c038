"""Patient and principal facts for enrichment, read from the FHIR store (adapter, cached).

Runs in the stream processor's thread with its own repository connection; a short cache
keeps the per-event cost at a dictionary lookup. Best effort: when the FHIR data does not
answer (gateway mode: an upstream down or stalled), no lookup is tried for
UNAVAILABLE_PAUSE_S, so the evidence never waits for the upstream more than one timeout
in each pause (detection runs without the facts meanwhile).
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from api.data.port import FhirData, RepositoryUnavailable
from stream.enrich import PatientFacts

FLAG_SYSTEM = "http://fhir-evidence.example/patient-flags"
CACHE_SIZE = 50_000
TTL_S = 60.0
UNAVAILABLE_PAUSE_S = 10.0
T = TypeVar("T")


def _family(resource: dict[str, Any]) -> str:
    names = resource.get("name") or [{}]
    return str(names[0].get("family", "")).strip().lower()


def patient_facts_of(resource: dict[str, Any]) -> PatientFacts:
    tags = resource.get("meta", {}).get("tag", [])
    flags = {t.get("code") for t in tags if t.get("system") == FLAG_SYSTEM and t.get("code")}
    return PatientFacts(_family(resource), frozenset(str(f) for f in flags))


class ContextLookup:
    def __init__(self, repository: FhirData, clock: Callable[[], float] = time.monotonic):
        self._repository = repository
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[Any, float]] = OrderedDict()
        self._paused_until = float("-inf")  # after the FHIR data failed to answer

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T | None:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return cast(T, hit[0])
        if now < self._paused_until:
            return None
        try:
            value = load()
        except RepositoryUnavailable:
            self._paused_until = self._clock() + UNAVAILABLE_PAUSE_S
            return None  # enrichment is best effort: detection runs without it
        self._cache[key] = (value, now + TTL_S)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def patient_facts(self, patient_id: str) -> PatientFacts | None:
        def load() -> PatientFacts | None:
            stored = self._repository.read("Patient", patient_id)
            return patient_facts_of(stored.as_dict()) if stored else None

        return self._cached(("Patient", patient_id), load)

    def principal_family(self, fhir_user: str) -> str:
        parts = fhir_user.rstrip("/").split("/")
        rtype, rid = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        if rtype not in {"Practitioner", "Patient"} or not rid:
            return ""

        def load() -> str:
            stored = self._repository.read(rtype, rid)
            return _family(stored.as_dict()) if stored else ""

        return str(self._cached((rtype, rid), load) or "")
