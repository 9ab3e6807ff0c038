"""alert_action_problems: records must match their chained digests, and have an event."""

from dataclasses import replace

from evidence.core.alert_actions import (
    SUPPRESS,
    ActionEvent,
    AlertAction,
    action_marker,
    alert_action_problems,
)

ACTION = AlertAction("al-1", SUPPRESS, "denied_burst", "dr-x", "aud-1", "pen test", 10, 99, "r1")
EVENT = ActionEvent("api-1", 7, "e7", "r1", action_marker(ACTION))


def test_a_matching_record_is_fine() -> None:
    assert alert_action_problems([EVENT], [ACTION]) == []


def test_an_edited_record_is_named_by_its_event() -> None:
    extended = replace(ACTION, until_us=10**12)  # the suppression quietly extended
    (problem,) = [p for p in alert_action_problems([EVENT], [extended])
                  if p.kind == "alert_action.altered"]  # fmt: skip
    assert (problem.producer_id, problem.sequence, problem.event_id) == ("api-1", 7, "e7")


def test_a_deleted_record_is_altered() -> None:
    assert [p.kind for p in alert_action_problems([EVENT], [])] == ["alert_action.altered"]


def test_a_record_without_its_event_is_unchained() -> None:
    forged = replace(ACTION, request_id="r-forged")
    kinds = {p.kind for p in alert_action_problems([EVENT], [ACTION, forged])}
    assert kinds == {"alert_action.unchained"}


def test_events_of_other_kinds_are_ignored() -> None:
    other = ActionEvent("api-1", 8, "e8", "r2", "policy-1")
    assert alert_action_problems([other], []) == []
