"""What verification reports: one problem per broken, missing or forged thing, named."""

from dataclasses import dataclass, field
from typing import Any

# Kinds (stable strings): altered, missing, forged, duplicate, reordered,
# checkpoint.signature, checkpoint.altered, checkpoint.chain, checkpoint.consistency,
# checkpoint.root, erasure.unrecorded, erasure.altered, alert_action.altered,
# alert_action.unchained.


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: str
    producer_id: str
    sequence: int  # for checkpoint problems: the checkpoint's tree size
    event_id: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "producer_id": self.producer_id,
            "sequence": self.sequence,
            "event_id": self.event_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ErasedEntry:
    """A sequence whose row was lawfully erased: proven by its record, not a gap."""

    producer_id: str
    sequence: int
    event_id: str
    erasure_id: str
    recorded_by: str  # "<producer>/<sequence>" of the erasure event in the chain

    def as_dict(self) -> dict[str, Any]:
        return {
            "producer_id": self.producer_id,
            "sequence": self.sequence,
            "event_id": self.event_id,
            "erasure_id": self.erasure_id,
            "erased_by": self.recorded_by,
        }


@dataclass(slots=True)
class VerificationReport:
    events_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    erased: list[ErasedEntry] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events_checked": self.events_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "problems": [p.as_dict() for p in self.problems],
            "erased": [e.as_dict() for e in self.erased],
        }
