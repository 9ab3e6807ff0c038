"""DetectionEvent: the slice of one evidence row (plus enrichment) that the rules look at.

Everything here is pseudonymous already: patient and resource ids are keyed hashes, and the
enrichment carries only pseudonyms of VIP/staff patients and one same-surname boolean.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ALLOW, DENY, PARTIAL = "allow", "deny", "partial"
ENRICHMENT_KEYS = frozenset({"vip_patients", "staff_patients", "same_surname"})
_REQUIRED = ("event_id", "ts_us", "decision")


@dataclass(frozen=True, slots=True)
class DetectionEvent:
    event_id: str
    request_id: str
    ts_us: int
    sub: str
    client_id: str
    decision: str  # "allow" | "deny" | "partial"
    status: int
    action: str
    resource_type: str
    reasons: tuple[str, ...] = ()
    patient_hashes: tuple[str, ...] = ()
    resource_hashes: tuple[str, ...] = ()
    purpose_of_use: str = ""
    count_returned: int = 0
    vip_patients: tuple[str, ...] = ()
    staff_patients: tuple[str, ...] = ()
    same_surname: bool = False

    @property
    def principal(self) -> str:
        """Who the rules group by: the token's `sub`; a client without a user is
        `client:<client_id>`; a request without any credential is `anonymous`."""
        if self.sub:
            return self.sub
        return f"client:{self.client_id}" if self.client_id else "anonymous"

    @property
    def returned_data(self) -> bool:
        """Allowed (fully or partly) and at least one resource handed out."""
        return self.decision in (ALLOW, PARTIAL) and self.count_returned > 0


def detection_event_from_row(
    row: Mapping[str, Any], enrichment: Mapping[str, Any] | None = None
) -> DetectionEvent:
    """Build from an evidence row (the store's column names) and optional enrichment
    (`vip_patients`, `staff_patients`, `same_surname`; any other key is refused)."""
    missing = [name for name in _REQUIRED if name not in row]
    if missing:
        raise ValueError(f"evidence row lacks {missing}")
    extra = enrichment or {}
    unknown = set(extra) - ENRICHMENT_KEYS
    if unknown:
        raise ValueError(f"unknown enrichment keys: {sorted(unknown)}")
    return DetectionEvent(
        event_id=str(row["event_id"]),
        request_id=str(row.get("request_id", "")),
        ts_us=int(row["ts_us"]),
        sub=str(row.get("sub", "")),
        client_id=str(row.get("client_id", "")),
        decision=str(row["decision"]),
        status=int(row.get("status", 0)),
        action=str(row.get("action", "")),
        resource_type=str(row.get("resource_type", "")),
        reasons=_strings(row.get("reasons")),
        patient_hashes=_strings(row.get("patient_hashes")),
        resource_hashes=_strings(row.get("resource_hashes")),
        purpose_of_use=str(row.get("purpose_of_use", "")),
        count_returned=int(row.get("count_returned", 0)),
        vip_patients=_strings(extra.get("vip_patients")),
        staff_patients=_strings(extra.get("staff_patients")),
        same_surname=_flag(extra.get("same_surname", False)),
    )


def _strings(values: Iterable[Any] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        raise ValueError("expected a list of strings, got one string")
    return tuple(str(value) for value in values)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("same_surname must be a boolean")
    return value
