"""Pure redaction rules."""

from api.security.access import AccessPlan, PatientReach, Reach
from api.security.redaction import DEFAULT_REDACTIONS, fields_to_redact, redact

PLAN_ALL = AccessPlan(True, PatientReach(Reach.ALL), frozenset(), (), ())
PLAN_ONE = AccessPlan(True, PatientReach(Reach.ONE, patient="p1"), frozenset(), (), ())


def test_rules() -> None:
    assert fields_to_redact(PLAN_ALL, frozenset(), "Patient", "p1", DEFAULT_REDACTIONS)
    assert not fields_to_redact(
        PLAN_ALL, frozenset({"demographics"}), "Patient", "p1", DEFAULT_REDACTIONS
    )
    assert not fields_to_redact(PLAN_ONE, frozenset(), "Patient", "p1", DEFAULT_REDACTIONS)
    assert fields_to_redact(PLAN_ONE, frozenset(), "Patient", "p2", DEFAULT_REDACTIONS)
    assert not fields_to_redact(PLAN_ALL, frozenset(), "Observation", "p1", DEFAULT_REDACTIONS)


def test_redact_marks_and_removes() -> None:
    resource = {"resourceType": "Patient", "id": "p", "telecom": [{}], "meta": {"versionId": "1"}}
    out = redact(resource, ("telecom", "address"))
    assert out is not None and "telecom" not in out
    assert out["meta"]["security"][0]["code"] == "REDACTED" and out["meta"]["versionId"] == "1"
    assert "telecom" in resource  # the input is not modified
    assert redact({"resourceType": "Patient", "id": "p"}, ("telecom",)) is None
