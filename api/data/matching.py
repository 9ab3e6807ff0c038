"""Whether one resource meets search criteria, judged from its own index entries (pure).

The reference meaning of api.data.query: an adapter that cannot compile a criterion into its
upstream query (the gateway) re-checks each returned resource with it, and the contract
tests of the data port use it as their oracle.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from api.data.indexing import index_entries, owner_patient, sortable_number
from api.data.query import (
    Alternatives,
    Criterion,
    DateIn,
    DateRange,
    IdIn,
    OwnerIn,
    Prefix,
    QuantityIn,
    QuantityRange,
    ReferenceIn,
    StringStartsWith,
    TokenIn,
)

__all__ = ["IndexedResource", "indexed", "meets", "meets_all", "meets_one_of"]

IndexEntry = tuple[str, str, str, str]  # (param, value, lo, hi)


@dataclass(frozen=True, slots=True)
class IndexedResource:
    owner: str  # the owner patient's id, "" outside every compartment
    entries: tuple[IndexEntry, ...]

    def values(self, param: str) -> list[IndexEntry]:
        return [entry for entry in self.entries if entry[0] == param]


def indexed(resource: dict[str, Any]) -> IndexedResource:
    return IndexedResource(owner_patient(resource), tuple(index_entries(resource)))


def meets_one_of(alternatives: Alternatives, resource: IndexedResource) -> bool:
    """Granular constraints: no alternatives is unconstrained, an empty one matches nothing."""
    if not alternatives:
        return True
    return any(alternative and meets_all(alternative, resource) for alternative in alternatives)


def meets_all(criteria: Iterable[Criterion], resource: IndexedResource) -> bool:
    return all(meets(criterion, resource) for criterion in criteria)


def meets(criterion: Criterion, resource: IndexedResource) -> bool:
    if isinstance(criterion, OwnerIn):
        return bool(resource.values("_id")) and resource.owner in criterion.patient_ids
    return any(_entry_test(criterion)(entry) for entry in resource.values(criterion.param))


EntryTest = Callable[[IndexEntry], bool]


def _entry_test(criterion: Criterion) -> EntryTest:
    if isinstance(criterion, StringStartsWith):
        return lambda entry: entry[1].startswith(criterion.prefixes)
    if isinstance(criterion, TokenIn):
        return lambda entry: entry[1] in criterion.tokens
    if isinstance(criterion, ReferenceIn):
        return lambda entry: entry[1] in criterion.references
    if isinstance(criterion, IdIn):
        return lambda entry: entry[1] in criterion.ids
    if isinstance(criterion, DateIn):
        return lambda entry: any(_date_holds(r, entry[2], entry[3]) for r in criterion.ranges)
    if isinstance(criterion, QuantityIn):
        return lambda entry: any(_quantity_holds(r, entry) for r in criterion.ranges)
    return lambda entry: False


def _date_holds(searched: DateRange, lo: str, hi: str) -> bool:
    start, end = searched.start, searched.end
    return {
        Prefix.EQ: lo >= start and hi <= end,
        Prefix.GT: hi > end,
        Prefix.GE: hi >= start,
        Prefix.LT: lo < start,
        Prefix.LE: lo <= end,
    }[searched.prefix]


def _quantity_holds(searched: QuantityRange, entry: IndexEntry) -> bool:
    _, unit, lo, _ = entry
    if searched.unit and unit != searched.unit:
        return False
    if searched.prefix is Prefix.EQ:
        return sortable_number(searched.low) <= lo < sortable_number(searched.high)
    exact = sortable_number(searched.value)
    return {
        Prefix.GT: lo > exact,
        Prefix.GE: lo >= exact,
        Prefix.LT: lo < exact,
        Prefix.LE: lo <= exact,
    }[searched.prefix]
