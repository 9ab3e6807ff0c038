"""An auditor acknowledging or suppressing an alert, kept as evidence (pure).

Each action is a record (alert, action, the alert's kind and principal, who acted, reason,
when, until when, the request that did it) kept in the evidence store, and one chained
event whose `policy_version` commits to the record's digest
(`alert-action/v1:<alert id>:<digest>`). The event carries no free text; the record holds
the reason. A record changed after the fact no longer matches the digest in the chain.

Status of an alert: that of its latest action (by time, then request id): `acknowledged`
for good, `suppressed` until the suppression's end (then `open` again), `open` without any.
A suppression mutes the detector for the alert's (kind, principal) until then.

Verification of alert actions (pure): every acknowledgement or suppression record must
match the digest its chained event commits to, and every record must have that event.

A record edited after the fact (a reason rewritten, a suppression extended) no longer
matches: `alert_action.altered`. A record inserted straight into the store to silence an
alert has no chained event: `alert_action.unchained`.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from evidence.core.event import AccessEvent, Decision
from evidence.core.problems import ChainProblem

ACKNOWLEDGE, SUPPRESS = "acknowledge", "suppress"
ACTIONS = (ACKNOWLEDGE, SUPPRESS)
OPEN, ACKNOWLEDGED, SUPPRESSED = "open", "acknowledged", "suppressed"
STATUSES = (OPEN, ACKNOWLEDGED, SUPPRESSED)
REASON_MAX = 500
_ALERT_ID = r"[A-Za-z0-9._-]{1,64}"
_MARKER = re.compile(rf"alert-action/v1:({_ALERT_ID}):([0-9a-f]{{64}})")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are plain text


@dataclass(frozen=True, slots=True)
class AlertAction:
    alert_id: str
    action: str  # ACKNOWLEDGE or SUPPRESS
    kind: str  # the alert's kind and principal: what a suppression mutes
    principal: str
    actor: str  # who acted, named as evidence names principals (sub, or client:<id>)
    reason: str
    at_us: int
    until_us: int  # a suppression's end; 0 for an acknowledgement
    request_id: str  # the request that did it: its evidence and this action's event

    @property
    def order(self) -> tuple[int, str]:
        return (self.at_us, self.request_id)


def check_reason(reason: object) -> str:
    """The reason as given: plain text of 1 to 500 characters, not only blanks."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason must be a non-empty string")
    if len(reason) > REASON_MAX:
        raise ValueError(f"reason must be at most {REASON_MAX} characters")
    if _CONTROL.search(reason):
        raise ValueError("reason must be plain text (no control characters)")
    return reason


def action_digest(action: AlertAction) -> str:
    """SHA-256 over the record's fields, NUL-separated, in a fixed order."""
    fields = (
        "fhir-evidence/alert-action/v1", action.alert_id, action.action, action.kind,
        action.principal, action.actor, action.reason, str(action.at_us),
        str(action.until_us), action.request_id,
    )  # fmt: skip
    return hashlib.sha256("\x00".join(fields).encode("utf-8")).hexdigest()


def action_marker(action: AlertAction) -> str:
    marker = f"alert-action/v1:{action.alert_id}:{action_digest(action)}"
    if not _MARKER.fullmatch(marker):
        raise ValueError("alert ids are 1 to 64 letters, digits, '.', '_' or '-'")
    return marker


def parse_action_marker(policy_version: str) -> tuple[str, str] | None:
    """(alert id, digest) of an alert action event's policy_version, else None."""
    match = _MARKER.fullmatch(policy_version)
    return (match.group(1), match.group(2)) if match else None


def action_event(
    action: AlertAction,
    event_id: str,
    trace_id: str = "",
    identity: tuple[str, str, str] = ("", "", ""),
) -> AccessEvent:
    """The chained evidence of one action, in the request's lifecycle (same request id).
    `identity`: the actor's (sub, client_id, issuer) as the request's own event has them."""
    sub, client_id, issuer = identity
    return AccessEvent(
        event_id=event_id,
        request_id=action.request_id,
        trace_id=trace_id,
        ts_us=action.at_us,
        method="INTERNAL",
        route="internal",
        action=f"alert.{action.action}",
        resource_type="AuditEvent",
        decision=Decision.ALLOW,
        status=200,
        reasons=(f"alert.{status_of(action.action)}",),
        sub=sub,
        client_id=client_id,
        issuer=issuer,
        count_returned=1,
        policy_version=action_marker(action),
    )


def status_of(action: str) -> str:
    return ACKNOWLEDGED if action == ACKNOWLEDGE else SUPPRESSED


def latest(actions: Iterable[AlertAction]) -> AlertAction | None:
    return max(actions, key=lambda a: a.order, default=None)


def status_at(action: AlertAction | None, now_us: int) -> str:
    """The status an alert has at `now_us` given its latest action."""
    if action is None:
        return OPEN
    if action.action == SUPPRESS and action.until_us <= now_us:
        return OPEN  # the suppression is over
    return status_of(action.action)


def episode_end_us(window_start_us: int, window_s: int) -> int:
    """The default end of a suppression: the end of the alert's episode."""
    return window_start_us + window_s * 1_000_000


def suppressions(actions: Iterable[AlertAction], now_us: int) -> dict[tuple[str, str], int]:
    """(kind, principal) -> until, of the suppressions in force at `now_us`, given each
    alert's latest action (a later acknowledgement lifts an alert's suppression)."""
    muted: dict[tuple[str, str], int] = {}
    for action in actions:
        if action.action == SUPPRESS and action.until_us > now_us:
            key = (action.kind, action.principal)
            muted[key] = max(muted.get(key, 0), action.until_us)
    return muted


@dataclass(frozen=True, slots=True)
class ActionEvent:
    producer_id: str
    sequence: int
    event_id: str
    request_id: str
    policy_version: str


def alert_action_problems(
    events: Iterable[ActionEvent], records: Iterable[AlertAction]
) -> list[ChainProblem]:
    """`events`: the chained alert-action events of a window; `records`: the stored action
    records of those requests and of the window."""
    records = list(records)
    stored = {(r.alert_id, action_digest(r)) for r in records}
    problems, chained = [], set()
    for event in events:
        marker = parse_action_marker(event.policy_version)
        if marker is None:
            continue
        chained.add(event.request_id)
        if marker not in stored:
            problems.append(ChainProblem(
                "alert_action.altered", event.producer_id, event.sequence, event.event_id,
                f"the record of this action on alert {marker[0]} was changed or removed",
            ))  # fmt: skip
    for record in records:
        if record.request_id not in chained:
            problems.append(ChainProblem(
                "alert_action.unchained", "", 0, record.request_id,
                f"a {record.action} of alert {record.alert_id} with no chained event",
            ))  # fmt: skip
    return problems
