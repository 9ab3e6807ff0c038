"""Verdicts and their combination (api.security.verdict): every pair of a small universe
against the rule written out independently, properties of folded step sequences, and the
evidence each request path recorded before verdicts were values."""

import itertools
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.security.verdict import (
    ALLOWED,
    Verdict,
    allow,
    combine,
    deny,
    partial,
    resource_denied,
)
from evidence.core import Decision
from evidence.core import ReasonCode as R

DECISIONS = (Decision.ALLOW, Decision.PARTIAL, Decision.DENY)
REASON_SETS = [(), ("a",), ("b",), ("a", "b"), ("b", "a"), ("c", "a")]
UNIVERSE = [
    Verdict(decision, reasons, flag)
    for decision, reasons, flag in itertools.product(DECISIONS, REASON_SETS, (False, True))
]


def expected(earlier: Verdict, later: Verdict) -> Verdict:
    """The rule as the module docstring states it, written out independently."""
    if earlier.decision is Decision.DENY:
        return earlier
    if later.replaces_grant:
        return later
    rank = {Decision.ALLOW: 0, Decision.PARTIAL: 1, Decision.DENY: 2}
    decision = (
        earlier.decision if rank[earlier.decision] >= rank[later.decision] else (later.decision)
    )
    reasons = list(earlier.reasons)
    for reason in later.reasons:
        if reason not in reasons:
            reasons.append(reason)
    return Verdict(decision, tuple(reasons))


@pytest.mark.parametrize(("earlier", "later"), list(itertools.product(UNIVERSE, UNIVERSE)), ids=str)
def test_every_pair_combines_by_the_rule(earlier: Verdict, later: Verdict) -> None:
    got = combine(earlier, later)
    want = expected(earlier, later)
    assert (got.decision, got.reasons) == (want.decision, want.reasons)


@pytest.mark.parametrize("verdict", UNIVERSE, ids=str)
def test_no_earlier_step_is_the_step_itself(verdict: Verdict) -> None:
    assert combine(None, verdict) is verdict
    assert combine(verdict, verdict).reasons == verdict.reasons


def test_constructors_keep_order_drop_repeats_and_blanks() -> None:
    assert allow("a", "", "b", "a").reasons == ("a", "b")
    assert deny(R.NOT_FOUND).reasons == ("not_found",) and type(deny(R.NOT_FOUND).reasons[0]) is str
    assert partial("x").decision is Decision.PARTIAL and not partial("x").denies
    assert resource_denied("x").replaces_grant and resource_denied("x").denies
    assert Verdict(Decision.ALLOW) == ALLOWED and not ALLOWED.denies


verdicts = st.builds(
    Verdict,
    st.sampled_from(DECISIONS),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3, unique=True).map(tuple),
    st.booleans(),
)


@given(st.lists(verdicts, min_size=1, max_size=6))
def test_a_deny_dominates_and_nothing_after_it_counts(steps: list[Verdict]) -> None:
    folded = reduce(combine, steps[1:], steps[0])
    first_deny = next((i for i, v in enumerate(steps) if v.denies), None)
    assert folded.denies == (first_deny is not None)
    if first_deny is not None:
        assert folded == reduce(combine, steps[1 : first_deny + 1], steps[0])
        assert set(steps[first_deny].reasons) <= set(folded.reasons)
    assert len(set(folded.reasons)) == len(folded.reasons) and "" not in folded.reasons


@given(st.lists(verdicts.filter(lambda v: not v.replaces_grant), min_size=1, max_size=6))
def test_without_resource_verdicts_nothing_is_forgotten_before_a_deny(
    steps: list[Verdict],
) -> None:
    folded = reduce(combine, steps[1:], steps[0])
    last = next((i for i, v in enumerate(steps) if v.denies), len(steps) - 1)
    seen = [r for step in steps[: last + 1] for r in step.reasons]
    assert folded.reasons == tuple(dict.fromkeys(seen))
    severities = [v.decision for v in steps[: last + 1]]
    worst = max(severities, key=[Decision.ALLOW, Decision.PARTIAL, Decision.DENY].index)
    assert folded.decision is worst


GRANT = allow(R.SCOPE_GRANTED, R.CARETEAM_MEMBER)
PATHS = {  # request path: (the steps it takes after the grant, the evidence it recorded)
    "read served": ([GRANT], ("allow", ["scope.granted", "careteam.member"])),
    "read missing": (
        [deny(R.NOT_FOUND)],
        ("deny", ["scope.granted", "careteam.member", "not_found"]),
    ),
    "read hidden by the care team": (
        [resource_denied(R.SCOPE_GRANTED, R.CARETEAM_NOT_MEMBER)],
        ("deny", ["scope.granted", "careteam.not_member"]),
    ),
    "read hidden by a label": (
        [resource_denied(R.SCOPE_GRANTED, R.CARETEAM_MEMBER, R.LABEL_WITHHELD)],
        ("deny", ["scope.granted", "careteam.member", "label.withheld"]),
    ),
    "read outside a granular scope": (
        [resource_denied(R.SCOPE_INSUFFICIENT)],
        ("deny", ["scope.insufficient"]),
    ),
    "search page partial, includes withheld": (
        [combine(partial(R.CARETEAM_NOT_MEMBER), partial(R.SCOPE_INSUFFICIENT))],
        ("partial", [*GRANT.reasons, "careteam.not_member", "scope.insufficient"]),
    ),
    "search page served whole": ([ALLOWED], ("allow", ["scope.granted", "careteam.member"])),
    "invalid cursor after the grant": (
        [deny(R.CURSOR_INVALID)],
        ("deny", ["scope.granted", "careteam.member", "cursor.invalid"]),
    ),
    "write outside the reach": (
        [deny(R.CARETEAM_NOT_MEMBER)],
        ("deny", ["scope.granted", "careteam.member", "careteam.not_member"]),
    ),
    "store failed, then the response failed too": (
        [deny(R.DEPENDENCY_FAILED), deny(R.REQUEST_TOO_LARGE)],
        ("deny", ["scope.granted", "careteam.member", "dependency.failed"]),
    ),
}


@pytest.mark.parametrize("path", PATHS)
def test_each_path_records_what_it_recorded_before(path: str) -> None:
    steps, (decision, reasons) = PATHS[path]
    outcome = reduce(combine, steps[1:], steps[0])
    verdict = combine(GRANT, outcome)
    assert (str(verdict.decision), list(verdict.reasons)) == (decision, reasons)


def test_refusals_before_any_grant_record_their_own_reason() -> None:
    assert combine(None, deny(R.TOKEN_EXPIRED)).reasons == ("token.expired",)
    refused = deny(R.EXPORT_NOT_PERMITTED, R.SCOPE_INSUFFICIENT)
    assert combine(refused, refused) is refused
