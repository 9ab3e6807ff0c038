"""AccessEvent: the immutable record of one request, as the API saw it (raw identifiers).

Raw identifiers (patient, resource ids, the token's patient, the client address) live only
in the API, the outbox and the raw topic; `evidence.core.record` turns an event into its
pseudonymous evidence form before anything reaches the evidence store.
"""

from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any

EVENT_SCHEMA_VERSION = 5  # 2 count_redacted, 3 client_address, 4 the token model, 5 probes


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """Everything the contract's audit evidence asks for, for one request. No clinical content."""

    event_id: str
    request_id: str
    trace_id: str
    ts_us: int  # response time, microseconds since the epoch, UTC
    method: str
    route: str  # the route template, never the raw path (paths hold ids)
    action: str  # read, search, create, update, delete, metadata, audit.read, ...
    resource_type: str
    decision: Decision
    status: int
    reasons: tuple[str, ...] = ()
    sub: str = ""
    client_id: str = ""
    issuer: str = ""
    token_alg: str = ""
    token_kid: str = ""
    token_jti_hash: str = ""
    token_model: str = ""
    fhir_user: str = ""
    context_patient_id: str = ""
    purpose_of_use: str = ""
    scopes_granted: tuple[str, ...] = ()
    scopes_used: tuple[str, ...] = ()
    patient_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()  # "Type/id"
    query_params: tuple[str, ...] = ()  # parameter names only, never values
    count_returned: int = 0
    count_withheld: int = 0
    count_redacted: int = 0  # returned with fields removed (schema version 2)
    policy_version: str = ""
    # Where the request came from, in its recorded form (api.http.client_address: IPv4
    # whole, IPv6 by its /64); a raw identifier, pseudonymised in evidence (version 3).
    client_address: str = ""
    # The token model (version 4): how the token was checked ("jwt" or "introspected"; ""
    # when not even its shape was), and the identity provider's product and version as
    # the operator configured them ("" where not known: never guessed).
    token_type: str = ""
    idp_product: str = ""
    idp_version: str = ""
    # Patients a search named but the caller may not see (version 5): raw ids,
    # pseudonymised in evidence as `probed_patient_hashes`; never a count of what exists.
    probed_patient_ids: tuple[str, ...] = ()
    schema_version: int = field(default=EVENT_SCHEMA_VERSION)


_TUPLE_FIELDS = frozenset(f.name for f in fields(AccessEvent) if str(f.type).startswith("tuple"))
_FIELD_NAMES = frozenset(f.name for f in fields(AccessEvent))


_FIELD_ORDER = tuple(f.name for f in fields(AccessEvent))
_FIELD_VALUES = attrgetter(*_FIELD_ORDER)  # every field's value, in order, in one C call


def event_to_dict(event: AccessEvent) -> dict[str, Any]:
    """Plain JSON-ready values (fields hold only str, int and tuples of str)."""
    data = dict(zip(_FIELD_ORDER, _FIELD_VALUES(event), strict=True))
    for name in _TUPLE_FIELDS:
        data[name] = list(data[name])
    data["decision"] = str(event.decision)
    return data


def event_from_dict(data: dict[str, Any]) -> AccessEvent:
    """Rebuild an event; unknown keys are refused so that no field is silently lost."""
    unknown = set(data) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"unknown event fields: {sorted(unknown)}")
    values = dict(data)
    for name in _TUPLE_FIELDS & set(values):
        values[name] = tuple(values[name])
    values["decision"] = Decision(values["decision"])
    return AccessEvent(**values)
