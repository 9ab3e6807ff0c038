"""The evidence-query port's plain-data types (evidence.core.queries)."""

import pytest

from evidence.core.queries import FOREVER_US, AccessFilter, AlertFilter, outcome_code
from evidence.store.access_query import OUTCOME_SQL


@pytest.mark.parametrize(
    ("decision", "status", "code"),
    [("allow", 200, 0), ("partial", 200, 0), ("deny", 200, 4), ("allow", 404, 4),
     ("deny", 403, 4), ("deny", 503, 8), ("allow", 500, 8), ("partial", 302, 0)],
)  # fmt: skip
def test_the_auditevent_outcome_of_an_access(decision: str, status: int, code: int) -> None:
    assert outcome_code(decision, status) == code


def test_the_store_applies_the_same_outcome_rule() -> None:
    assert OUTCOME_SQL == "multiIf(decision != 'deny' AND status < 400, 0, status >= 500, 8, 4)"


def test_empty_filters_filter_nothing() -> None:
    everything = AccessFilter()
    assert (everything.since_us, everything.until_us) == (0, FOREVER_US)
    narrowing = (everything.patient_hash, everything.sub, everything.decisions,
                 everything.actions, everything.outcomes, everything.stored_until_ms)  # fmt: skip
    assert not any(narrowing)
    assert AlertFilter() == AlertFilter(0, FOREVER_US, "", "", "", "")
