"""Alert actions (pure): reasons, the digest the chain commits to, statuses, suppressions."""

from dataclasses import fields, replace

import pytest

from evidence.core import Decision
from evidence.core.alert_actions import (
    ACKNOWLEDGE,
    SUPPRESS,
    AlertAction,
    action_digest,
    action_event,
    action_marker,
    check_reason,
    episode_end_us,
    latest,
    parse_action_marker,
    status_at,
    suppressions,
)

S = 1_000_000
ACK = AlertAction("a" * 32, ACKNOWLEDGE, "denied_burst", "dr-x", "auditor-1", "known test",
                  100 * S, 0, "r" * 32)  # fmt: skip
SUP = replace(ACK, action=SUPPRESS, until_us=200 * S, at_us=150 * S, request_id="q" * 32)


@pytest.mark.parametrize("reason", ["ok", "x" * 500, "line one\nline two\twith a tab", "é ✓"])
def test_plain_text_reasons_are_kept_as_given(reason: str) -> None:
    assert check_reason(reason) == reason


@pytest.mark.parametrize("reason", ["", "   \n", "x" * 501, "bell\x07", "nul\x00", 42, None])
def test_bad_reasons_are_refused(reason: object) -> None:
    with pytest.raises(ValueError):
        check_reason(reason)


def test_the_digest_covers_every_field() -> None:
    assert action_digest(ACK) == action_digest(replace(ACK))
    for f in fields(AlertAction):
        value = getattr(ACK, f.name)
        changed = replace(ACK, **{f.name: value + 1 if isinstance(value, int) else value + "!"})
        assert action_digest(changed) != action_digest(ACK), f.name


def test_the_event_commits_to_the_record_and_names_no_reason() -> None:
    event = action_event(ACK, "e" * 32, "t" * 32, ("auditor-1", "console", "https://idp"))
    assert (event.request_id, event.ts_us, event.trace_id) == (ACK.request_id, ACK.at_us, "t" * 32)
    assert (event.action, event.resource_type, event.method) == (
        "alert.acknowledge",
        "AuditEvent",
        "INTERNAL",
    )
    assert event.decision is Decision.ALLOW and event.reasons == ("alert.acknowledged",)
    assert (event.sub, event.client_id, event.issuer) == ("auditor-1", "console", "https://idp")
    assert parse_action_marker(event.policy_version) == (ACK.alert_id, action_digest(ACK))
    assert ACK.reason not in repr(event)
    assert action_event(SUP, "e" * 32).reasons == ("alert.suppressed",)


def test_markers_refuse_odd_alert_ids() -> None:
    assert parse_action_marker(action_marker(replace(ACK, alert_id="al-1"))) is not None
    with pytest.raises(ValueError):
        action_marker(replace(ACK, alert_id="a:b"))
    assert parse_action_marker("detection:abc") is None


def test_status_follows_the_latest_action() -> None:
    assert status_at(None, 0) == "open"
    assert status_at(ACK, 10**18) == "acknowledged"
    assert status_at(SUP, 199 * S) == "suppressed"
    assert status_at(SUP, 200 * S) == "open"  # the suppression is over
    assert latest([SUP, ACK]) == SUP and latest([]) is None
    tie = replace(SUP, at_us=ACK.at_us, request_id="s" * 32)  # same time: request id decides
    assert latest([ACK, tie]) == tie


def test_suppressions_in_force_per_kind_and_principal() -> None:
    other = replace(SUP, alert_id="b" * 32, until_us=300 * S)
    elsewhere = replace(SUP, principal="dr-y", until_us=120 * S)
    assert suppressions([ACK, SUP, other, elsewhere], 150 * S) == {
        ("denied_burst", "dr-x"): 300 * S
    }
    assert suppressions([SUP], 200 * S) == {}
    assert episode_end_us(10 * S, 3600) == 3610 * S
