"""The FHIR data port: what routes, the guard, exports and enrichment need of the FHIR data,
whichever adapter holds it (SQLite in the data dir today; PostgreSQL and an upstream FHIR
server behind the same protocol). The policy travels into `search` as plain data (the
caller's patient reach and hidden labels), so every adapter applies it inside its query.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from api.data.sqlite.search_sql import Alternatives, Criterion, SortKey
from api.security.access import PatientReach
from evidence.core import FhirEvidenceError

__all__ = [
    "Alternatives",
    "Criterion",
    "FhirData",
    "RepositoryUnavailable",
    "SearchPage",
    "SortKey",
    "StoredResource",
]


class RepositoryUnavailable(FhirEvidenceError):
    """The FHIR store failed (every adapter translates its own errors into this)."""

    code = "repository.unavailable"


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_type: str
    id: str
    version_id: int
    patient_id: str
    labels: frozenset[str]
    body: bytes  # the JSON as stored, served as is

    def as_dict(self) -> dict[str, Any]:
        return dict(orjson.loads(self.body))


@dataclass(frozen=True, slots=True)
class SearchPage:
    rows: list[StoredResource]
    total: int  # visible to the caller
    in_reach: int  # within the caller's patient reach, labels ignored
    matching: int  # matching the query, policy ignored (never disclosed to the caller)


class FhirData(Protocol):
    def close(self) -> None: ...

    def is_empty(self) -> bool: ...

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None: ...

    def save(self, resource: dict[str, Any], now_iso: str) -> tuple[StoredResource, bool]: ...

    def save_many(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int: ...

    def delete(self, resource_type: str, resource_id: str, now_iso: str) -> bool: ...

    def satisfies(
        self, resource_type: str, resource_id: str, alternatives: Alternatives
    ) -> bool: ...

    def care_team_member(self, practitioner: str, patient_id: str) -> bool: ...

    def search(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        limit: int,
        offset: int,
        count_outside_reach: bool = False,
        alternatives: Alternatives = (),
        sort: Sequence[SortKey] = (),
    ) -> SearchPage: ...
