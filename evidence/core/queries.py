"""The evidence queries the auditor API and the console need (the port), with their plain-data
types (pure, stdlib only). `evidence.store.queries.StoreQueries` implements it on the
evidence store (chDB or a ClickHouse server); the API depends on this Protocol only.

Rows are plain dicts named by the store's columns (the access-event columns of the
evidence store, `patient_hashes`/`resource_hashes` holding pseudonyms); every list is
newest first unless a method says otherwise.
"""

from dataclasses import dataclass
from typing import Any, Protocol

from evidence.core.alert_actions import AlertAction
from evidence.core.errors import EvidenceError
from evidence.core.problems import VerificationReport

__all__ = [
    "FOREVER_US",
    "AccessFilter",
    "AlertEntry",
    "AlertFilter",
    "EvidenceQueries",
    "Position",
    "ProofUnavailable",
    "Row",
    "outcome_code",
]

FOREVER_US = 2**62  # an `until` later than any event
Row = dict[str, Any]
Position = tuple[int, str]  # (ts_us, event_id) of a row already seen (alerts: last_seen_us, id)


@dataclass(frozen=True, slots=True)
class AccessFilter:
    """Which access events; empty fields do not filter."""

    since_us: int = 0
    until_us: int = FOREVER_US
    patient_hash: str = ""
    sub: str = ""
    decisions: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    action_prefix: str = ""  # matched in addition to `actions` (OR), e.g. "audit."
    resource_type: str = ""  # one type; an export's comma list matches each of its types
    exclude_resource_type: str = ""
    client_id: str = ""
    entity: str = ""  # a resource pseudonym "Type/<hash>"; for Patient also the patient
    outcomes: tuple[int, ...] = ()  # FHIR AuditEvent outcome codes, see `outcome_code`
    min_returned: int = 0
    status_below: int = 0  # 0: any status
    stored_until_ms: int = 0  # 0: no cut; else rows stored at or before (an export snapshot)


def outcome_code(decision: str, status: int) -> int:
    """The FHIR AuditEvent outcome of an access: 0 success, 4 minor failure (refused or
    invalid: 4xx), 8 serious failure (5xx). The store's filter uses the same rule."""
    if decision != "deny" and status < 400:
        return 0
    return 8 if status >= 500 else 4


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Alerts seen within [since_us, until_us); empty fields match every alert."""

    since_us: int = 0
    until_us: int = FOREVER_US
    kind: str = ""
    principal: str = ""
    status: str = ""  # open, acknowledged or suppressed (at the time asked about)
    severity: str = ""


@dataclass(frozen=True, slots=True)
class AlertEntry:
    alert: Row  # the alert's columns (alert_id, kind, severity, first/last_seen_us, ...)
    latest: AlertAction | None  # its latest action (None: none yet)


class ProofUnavailable(EvidenceError):
    """No proof can be handed out (not sealed yet, or the stored tree does not verify)."""

    code = "proof.unavailable"


class EvidenceQueries(Protocol):
    """Reconstruction, alerts, alert actions, checkpoints and proofs, verification."""

    def find_accesses(
        self, f: AccessFilter, limit: int, after: Position | None = None, inclusive: bool = False
    ) -> list[Row]:
        """One page of matching access events; `inclusive` repeats the `after` row."""
        ...

    def count_accesses(self, f: AccessFilter) -> int: ...

    def store_time_ms(self) -> int:
        """The store's own clock (the cut of an export snapshot, `stored_until_ms`)."""
        ...

    def access_event(self, event_id: str) -> Row | None: ...

    def request_events(self, request_id: str) -> list[Row]:
        """Every event of one request, oldest first."""
        ...

    def alerts_for_request(self, request_id: str, limit: int = 100) -> list[Row]:
        """The alerts whose evidence includes this request, oldest first."""
        ...

    def hourly_activity(self, sub: str, since_us: int, until_us: int) -> list[Row]:
        """One row per active clock hour of `sub`, oldest first: hour_us,
        distinct_patients, requests, denials, break_glass."""
        ...

    def break_glass_uses(
        self, sub: str, since_us: int, until_us: int, limit: int = 100
    ) -> list[Row]: ...

    def alerts_page(
        self, f: AlertFilter, now_us: int, limit: int, after: Position | None = None
    ) -> list[AlertEntry]:
        """Alerts by last seen, each with its latest action; status as of `now_us`."""
        ...

    def alert(self, alert_id: str) -> Row | None: ...

    def alert_actions(self, alert_id: str) -> list[AlertAction]:
        """Every action on one alert, oldest first."""
        ...

    def record_alert_action(self, action: AlertAction) -> None: ...

    def checkpoint_page(
        self, producer: str, since_us: int, until_us: int, limit: int, after: Position | None
    ) -> list[Row]: ...

    def inclusion_proof(self, producer: str, sequence: int, event_hash: str) -> dict[str, Any]:
        """{leaf_index, leaf_hash, tree_size, inclusion_path, checkpoint: StoredCheckpoint},
        verified against the signed root; ProofUnavailable otherwise."""
        ...

    def consistency_proof(self, producer: str, first: int, second: int) -> dict[str, Any]:
        """{proof, first, second} (checkpoints of those sizes or None), verified when both
        exist; ProofUnavailable otherwise."""
        ...

    def verify(self, since_us: int, until_us: int) -> VerificationReport:
        """The integrity report of the window (chains, checkpoints, erasures, indexes)."""
        ...
