"""What a search asks of the FHIR data, as plain data every adapter can answer (pure).

A criterion names one search parameter and the values any of which must match (the values
of one FHIR parameter are OR-ed; the criteria of a search are AND-ed). The values are those
the search index holds (api.data.indexing): tokens as "code" or "system|code", strings
lower-cased, references as "Type/id", dates as [start, end] UTC ranges, quantities as
numbers with their unit. Adapters compile these into their own queries (SQL) or re-check a
resource with api.data.matching; nothing here is adapter-specific.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Alternatives",
    "Criterion",
    "DateIn",
    "DateRange",
    "IdIn",
    "OwnerIn",
    "Prefix",
    "QuantityIn",
    "QuantityRange",
    "ReferenceIn",
    "SortKey",
    "StringStartsWith",
    "TokenIn",
]


class Prefix(StrEnum):
    """FHIR comparison prefixes for dates and quantities."""

    EQ = "eq"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


@dataclass(frozen=True, slots=True)
class StringStartsWith:
    """A string parameter: some value starts with one of `prefixes` (both lower-cased)."""

    param: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenIn:
    """A token parameter: some value is one of `tokens` ("code" in any system, or
    "system|code"), compared exactly."""

    param: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReferenceIn:
    """A reference parameter: some value is one of `references` ("Type/id")."""

    param: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DateRange:
    """One searched date: the range [start, end] it stands for (UTC, ISO seconds) and how a
    resource's own range [lo, hi] must relate to it:
    eq lo >= start and hi <= end; gt hi > end; ge hi >= start; lt lo < start; le lo <= end."""

    prefix: Prefix
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class DateIn:
    """A date parameter: some value meets one of `ranges`."""

    param: str
    ranges: tuple[DateRange, ...]


@dataclass(frozen=True, slots=True)
class QuantityRange:
    """One searched quantity: eq means the value lies in [low, high) (the precision of the
    number as written); gt, ge, lt and le compare with `value`. `unit` ("code" or
    "system|code") must then be the quantity's unit; "" accepts any unit."""

    prefix: Prefix
    value: float
    low: float
    high: float
    unit: str = ""


@dataclass(frozen=True, slots=True)
class QuantityIn:
    """A quantity parameter: some value meets one of `ranges`."""

    param: str
    ranges: tuple[QuantityRange, ...]


@dataclass(frozen=True, slots=True)
class IdIn:
    """The resource's logical id is one of `ids`."""

    ids: tuple[str, ...]

    @property
    def param(self) -> str:
        return "_id"


@dataclass(frozen=True, slots=True)
class OwnerIn:
    """The resource lies in the compartment of one of these patients (resources outside
    every compartment never match)."""

    patient_ids: tuple[str, ...]

    @property
    def param(self) -> str:
        return ""  # not a search parameter: exports of a group ask it


Criterion = StringStartsWith | TokenIn | ReferenceIn | DateIn | QuantityIn | IdIn | OwnerIn

# Granular scope constraints: a resource must meet every criterion of one alternative (OR
# of ANDs). No alternatives: unconstrained; an empty alternative (it did not parse) matches
# nothing.
Alternatives = Sequence[Sequence[Criterion]]


@dataclass(frozen=True, slots=True)
class SortKey:
    """Order by `_id`, `_lastUpdated`, or a date or string parameter (`kind`), where a
    resource sorts by its smallest value and one without a value sorts first ascending
    (last descending); ties and the end of every ordering are by id (byte order)."""

    param: str
    kind: str
    descending: bool = False
