"""The FHIR data port: what routes, the guard, exports and enrichment need of the FHIR data,
whichever adapter holds it (SQLite in the data dir today; PostgreSQL and an upstream FHIR
server behind the same protocol). Searches arrive as neutral criteria (api.data.query) and
the policy travels with them as plain data (the caller's patient reach, hidden labels and
granular-scope alternatives), so every adapter applies it inside its own query. Every
adapter raises RepositoryUnavailable, never its driver's errors.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from api.data.query import Alternatives, Criterion, SortKey
from api.security.access import PatientReach
from evidence.core import FhirEvidenceError

__all__ = [
    "FhirData",
    "RepositoryUnavailable",
    "SearchPage",
    "StoredResource",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "VersionConflict",
]


class RepositoryUnavailable(FhirEvidenceError):
    """The FHIR store failed (every adapter translates its own errors into this)."""

    code = "repository.unavailable"
    http_status = 503


class UpstreamUnavailable(RepositoryUnavailable):
    """Gateway mode: the upstream FHIR server refused the connection, failed (5xx) or
    refused our own credentials; its own words never go further than this class."""

    code = "upstream.unavailable"


class UpstreamTimeout(RepositoryUnavailable):
    """Gateway mode: the upstream FHIR server did not answer in time (504)."""

    code = "upstream.timeout"
    http_status = 504


class VersionConflict(FhirEvidenceError):
    """A save expected another version than the one stored (or a resource where none is)."""

    code = "resource.version_conflict"


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
    in_reach: int  # within the reach and the granular constraints, labels ignored
    matching: int  # matching the query, policy ignored (never disclosed to the caller)
    # An adapter that cannot count every match (the gateway: it sees only what it fetched)
    # counts the entries it examined for this page, says so (`counted_all` False: no total
    # is disclosed) and numbers the positions itself (`next_offset`: where the next page
    # starts, None when there is none).
    counted_all: bool = True
    next_offset: int | None = None


class FhirData(Protocol):
    """A resource is owned by the patient whose compartment holds it ("" for none) and
    carries the codes of its `meta.security` labels; reads and searches never return a
    deleted resource."""

    def close(self) -> None: ...

    def is_empty(self) -> bool:
        """No resource was ever stored (demo data is loaded into an empty store)."""
        ...

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None: ...

    def save(
        self, resource: dict[str, Any], now_iso: str, expected_version: int | None = None
    ) -> tuple[StoredResource, bool]:
        """Create (version 1) or update (the next version, taken atomically: concurrent saves
        of one resource never lose an update); `meta.versionId` and `meta.lastUpdated` are
        set. With `expected_version`, VersionConflict unless that is the stored version of a
        resource that exists (not deleted). Returns (stored, created)."""
        ...

    def save_many(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        """Save all of them at once (all or none); returns how many."""
        ...

    def load_into_empty(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        """Save all of them at once, but only into a store that holds no resource yet: of
        several processes starting on one empty store at once, exactly one loads (the demo
        data). Returns how many were saved (0: the store was not empty)."""
        ...

    def delete(self, resource_type: str, resource_id: str, now_iso: str) -> bool:
        """Whether there was a resource to delete."""
        ...

    def satisfies(self, resource_type: str, resource_id: str, alternatives: Alternatives) -> bool:
        """Whether the stored resource meets one of the granular-scope alternatives."""
        ...

    def care_team_member(self, practitioner: str, patient_id: str) -> bool:
        """Whether an active CareTeam of the patient lists `practitioner` ("Practitioner/id")."""
        ...

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
    ) -> SearchPage:
        """One page (`limit` 0: the counts alone) of the resources meeting every criterion
        that lie within `reach`, meet one of the `alternatives` and carry none of the
        `hidden_labels`, ordered by `sort` then id (byte order). `matching` counts every
        match of the criteria, whatever the policy, when asked and the reach is not every
        patient; otherwise it equals `in_reach`."""
        ...

    def scan(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        alternatives: Alternatives = (),
        batch_size: int = 500,
    ) -> Iterator[list[StoredResource]]:
        """Every resource `search` would show, in id order, in batches of at most
        `batch_size`, each read as the previous one is consumed (exports of any size)."""
        ...
