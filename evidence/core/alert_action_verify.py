"""Verification of alert actions (pure): every acknowledgement or suppression record must
match the digest its chained event commits to, and every record must have that event.

A record edited after the fact (a reason rewritten, a suppression extended) no longer
matches: `alert_action.altered`. A record inserted straight into the store to silence an
alert has no chained event: `alert_action.unchained`.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from evidence.core.alert_actions import AlertAction, action_digest, parse_action_marker
from evidence.core.problems import ChainProblem


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
