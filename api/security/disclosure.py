"""What a request disclosed, as a value (pure): the resources and patients its response
covered and how many resources were returned, withheld and returned with fields removed.

The functions that serve resources return these facts (a served body says whether it was
redacted, a search page says what it returned and withheld); the route adds them up and
records the sum once with the request's verdict. Ids are raw here: the evidence pipeline
pseudonymises them before they leave the outbox.
"""

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NOTHING", "Disclosure", "disclosed_rows"]


@dataclass(frozen=True, slots=True)
class Disclosure:
    resource_ids: tuple[str, ...] = ()  # "Type/id", in the order served
    patient_ids: frozenset[str] = frozenset()
    returned: int = 0
    withheld: int = 0
    redacted: int = 0

    def __add__(self, other: "Disclosure") -> "Disclosure":
        if not other:
            return self
        if not self:
            return other
        return Disclosure(
            self.resource_ids + other.resource_ids,
            self.patient_ids | other.patient_ids,
            self.returned + other.returned,
            self.withheld + other.withheld,
            self.redacted + other.redacted,
        )

    def __bool__(self) -> bool:
        return bool(
            self.resource_ids or self.patient_ids or self.returned or self.withheld
            or self.redacted
        )  # fmt: skip


NOTHING = Disclosure()


def disclosed_rows(rows: Iterable[tuple[str, str, str]], withheld: int = 0) -> Disclosure:
    """Resources returned, given as (type, id, owner patient or "")."""
    resources: list[str] = []
    patients: set[str] = set()
    for resource_type, resource_id, patient_id in rows:
        resources.append(f"{resource_type}/{resource_id}")
        if patient_id:
            patients.add(patient_id)
    return Disclosure(tuple(resources), frozenset(patients), len(resources), withheld)
