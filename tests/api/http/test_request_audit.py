"""The request's audit record (api.http.request_audit): values in, one AccessEvent out."""

from typing import Any

import pytest
from structlog.testing import capture_logs

from api.http.request_audit import RequestAudit
from api.security.disclosure import Disclosure
from api.security.principal import Principal, TokenFacts
from api.security.verdict import ALLOWED, allow, deny, resource_denied
from evidence.core import Decision
from evidence.core import ReasonCode as R
from evidence.core.record import jti_hash

GRANT = allow(R.SCOPE_GRANTED, R.SYSTEM_ACCESS)


def event(record: RequestAudit, status: int = 200) -> Any:
    return record.to_event("e1", 1, "/fhir/{resource_type}", status)


def test_a_served_read_records_the_grant_and_what_it_disclosed() -> None:
    record = RequestAudit("r1", "t1", "GET")
    record.target("read", "Patient")
    record.under_policy("p-1")
    principal = Principal(sub="s", issuer="i", client_id="c", alg="RS256", kid="k", jti="j")
    record.authenticated(principal)
    record.granted(GRANT, ("system/*.rs",))
    record.subject("Patient/p1", "p1")
    record.conclude(GRANT, Disclosure(returned=1, redacted=1))
    e = event(record)
    assert (e.decision, e.reasons) == (Decision.ALLOW, ("scope.granted", "system.access"))
    assert (e.action, e.resource_type, e.policy_version) == ("read", "Patient", "p-1")
    assert (e.sub, e.client_id, e.token_alg, e.token_kid) == ("s", "c", "RS256", "k")
    assert e.token_jti_hash == jti_hash("j") and e.scopes_used == ("system/*.rs",)
    assert (e.resource_ids, e.patient_ids) == (("Patient/p1",), ("p1",))
    assert (e.count_returned, e.count_withheld, e.count_redacted) == (1, 0, 1)


def test_a_hidden_resource_records_its_own_verdict_and_the_withheld_count() -> None:
    record = RequestAudit("r1", "t1", "GET")
    record.granted(GRANT, ("system/*.rs",))
    record.subject("Observation/o1", "p2")
    record.conclude(resource_denied(R.SCOPE_GRANTED, R.SYSTEM_ACCESS, R.LABEL_WITHHELD),
                    Disclosure(withheld=1))  # fmt: skip
    e = event(record, 404)
    assert (e.decision, e.reasons) == (Decision.DENY, ("scope.granted", "system.access",
                                                       "label.withheld"))  # fmt: skip
    assert (e.resource_ids, e.patient_ids, e.count_withheld) == (("Observation/o1",), ("p2",), 1)


def test_a_refused_token_leaves_its_facts_and_no_principal() -> None:
    record = RequestAudit("r1", "t1", "GET")
    record.under_policy("p-1")
    record.token_refused(TokenFacts("none", "k9", "j9"))
    record.conclude(deny(R.TOKEN_ALG_NOT_ALLOWED))
    e = event(record, 401)
    assert (e.sub, e.token_alg, e.token_jti_hash) == ("", "none", jti_hash("j9"))
    assert e.token_kid.startswith("unknown:")  # anyone's text: only its keyed hash
    assert e.reasons == ("token.alg_not_allowed",) and e.scopes_granted == ()


def test_asked_names_are_sorted_once_and_the_subject_comes_first() -> None:
    record = RequestAudit("r1", "t1", "GET", vocabulary=frozenset({"a", "b"}))
    record.asked(["b", "a", "b"])
    record.subject("Group/g1")
    record.conclude(ALLOWED, Disclosure(("Patient/p1",), frozenset({"p1"}), returned=1))
    e = event(record)
    assert e.query_params == ("a", "b")
    record.asked(["c", "a"], known={"c"})  # the route's own allow-list, when it gives one
    assert event(record).query_params[0] == "c"
    assert event(record).query_params[1].startswith("unknown:")
    assert e.resource_ids == ("Group/g1", "Patient/p1") and e.patient_ids == ("p1",)


def test_a_refusal_after_the_conclusion_still_denies() -> None:
    record = RequestAudit("r1", "t1", "POST")
    record.granted(GRANT, ())
    record.conclude(ALLOWED, Disclosure(returned=1))
    record.conclude(deny(R.DEPENDENCY_FAILED))
    e = event(record, 500)
    assert (e.decision, e.reasons) == (Decision.DENY, ("scope.granted", "system.access",
                                                       "dependency.failed"))  # fmt: skip
    assert e.count_returned == 1


@pytest.mark.parametrize("granted", [False, True])
def test_a_response_without_a_decision_is_a_logged_deny(granted: bool) -> None:
    record = RequestAudit("r1", "t1", "GET")
    if granted:
        record.granted(GRANT, ())
    with capture_logs() as logs:
        e = event(record)
    assert e.decision is Decision.DENY and e.reasons[-1] == "decision.missing"
    assert e.reasons[:-1] == (GRANT.reasons if granted else ())
    assert [entry["log_level"] for entry in logs] == ["error"]
    assert logs[0]["request_id"] == "r1"
