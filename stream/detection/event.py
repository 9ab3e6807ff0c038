"""DetectionEvent: the slice of one evidence row (plus enrichment) that the rules look at.

Everything here is pseudonymous already: patient and resource ids are keyed hashes, and the
enrichment carries only pseudonyms of VIP/staff patients and one same-surname boolean.
`probed_patients` are the pseudonyms of patients a search named but the caller may not see
(the evidence's `probed_patient_hashes`); `actor_type` is the type of the token's fhirUser
("Practitioner", "Patient", "" for none) and `peer_group` names the principals it is
compared with: the scope contexts granted, the actor type and the client, e.g.
"user:Practitioner@portal" (no identifier of a person).

A named tuple (immutable; `_replace` for a changed copy): one is built per evidence row, and
a frozen dataclass costs ten times as much to build.
"""

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

ALLOW, DENY, PARTIAL = "allow", "deny", "partial"
ENRICHMENT_KEYS = frozenset({"vip_patients", "staff_patients", "same_surname"})
_REQUIRED = frozenset({"event_id", "ts_us", "decision"})
_NOT_ENRICHED = ((), (), False)


class DetectionEvent(NamedTuple):
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
    probed_patients: tuple[str, ...] = ()
    actor_type: str = ""
    peer_group: str = ""

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
    if not row.keys() >= _REQUIRED:
        raise ValueError(f"evidence row lacks {sorted(_REQUIRED - row.keys())}")
    get = row.get
    return DetectionEvent(  # positional, in the order of the fields: the hot path
        str(row["event_id"]),
        str(get("request_id", "")),
        int(row["ts_us"]),
        str(get("sub", "")),
        str(get("client_id", "")),
        str(row["decision"]),
        int(get("status", 0)),
        str(get("action", "")),
        str(get("resource_type", "")),
        _strings(get("reasons")),
        _strings(get("patient_hashes")),
        _strings(get("resource_hashes")),
        str(get("purpose_of_use", "")),
        int(get("count_returned", 0)),
        *(_enrichment(enrichment) if enrichment else _NOT_ENRICHED),
        _strings(get("probed_patient_hashes")),
        *_peer(get),
    )


def _peer(get: Any) -> tuple[str, str]:
    """(actor type, peer group) of a row: what the token is, never who."""
    fhir_user = str(get("fhir_user", "") or "")
    actor = fhir_user.rpartition("/")[0].rpartition("/")[2] if "/" in fhir_user else ""
    scopes = get("scopes_granted")
    group = _peer_group(actor, tuple(scopes) if scopes else (), str(get("client_id", "") or ""))
    return actor, group


@lru_cache(maxsize=4096)
def _peer_group(actor: str, scopes: tuple[str, ...], client_id: str) -> str:
    """Memoised (a deployment has few actor type, scopes and client combinations): sorting
    the scope contexts was a third of the cost of building an event."""
    contexts = sorted({str(s).partition("/")[0] for s in scopes if "/" in s})
    return f"{'+'.join(contexts) or 'none'}:{actor or '-'}@{client_id or '-'}"


def _enrichment(extra: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """vip_patients, staff_patients, same_surname."""
    if not ENRICHMENT_KEYS.issuperset(extra):
        raise ValueError(f"unknown enrichment keys: {sorted(set(extra) - ENRICHMENT_KEYS)}")
    return (
        _strings(extra.get("vip_patients")),
        _strings(extra.get("staff_patients")),
        _flag(extra.get("same_surname", False)),
    )


def _strings(values: Iterable[Any] | str | None) -> tuple[str, ...]:
    """A list, what evidence rows hold (JSON arrays, Array(String)), is taken as it is (the
    hot path); any other iterable is converted item by item."""
    if type(values) is list:
        return tuple(values)
    if isinstance(values, str):
        raise ValueError("expected a list of strings, got one string")
    return tuple(map(str, values)) if values else ()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("same_surname must be a boolean")
    return value
