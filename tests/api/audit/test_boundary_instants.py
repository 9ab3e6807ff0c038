"""The auditor API's time windows at the calendar's edges: any valid instant (years 0001 and
9999, offsets ±14:00) as `since`, `until` or an AuditEvent `date` answers 200 or 400, never
a 5xx; outside the span evidence can have, an instant counts as the nearer end of it."""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.audit.views import parse_instant_us
from tests.api.audit.conftest import AuditApp
from tests.api.data.test_boundary_dates import fhir_dates

INSTANTS = fhir_dates().filter(lambda text: "T" in text)
PATHS = (
    "/audit/patients/pat-00001/accesses",
    "/audit/patients/pat-00001/disclosures",
    "/audit/principals/x/accesses",
    "/audit/principals/activity?sub=x",
    "/audit/principals/x/activity",
    "/audit/verify",
    "/audit/alerts",
)


EDGES = ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
         "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.999999999+14:00")  # fmt: skip
LATEST = parse_instant_us("9999-01-01T00:00:00Z", -1)


@given(INSTANTS, INSTANTS)
def test_instants_parse_in_order_within_the_evidence_span(first: str, second: str) -> None:
    a, b = parse_instant_us(first, -1), parse_instant_us(second, -1)
    assert a >= 0 and b >= 0 and max(a, b) <= LATEST
    moments = [_utc(first), _utc(second)]
    if None not in moments and moments[0] < moments[1]:  # type: ignore[operator]
        assert a <= b


def _utc(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError:
        return None


@pytest.mark.parametrize("instant", EDGES)
@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("path", PATHS)
def test_each_window_at_each_edge(audit_app: AuditApp, path: str, name: str, instant: str) -> None:
    joiner = "&" if "?" in path else "?"
    response = audit_app.get(f"{path}{joiner}{name}={quote(instant, safe='')}",
                             headers=audit_app.auditor)  # fmt: skip
    assert response.status_code in (200, 400), (path, name, instant, response.text)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(PATHS), st.sampled_from(("since", "until")), INSTANTS)  # fmt: skip
def test_windows_at_the_edges_never_fail(
    audit_app: AuditApp, path: str, name: str, instant: str
) -> None:
    joiner = "&" if "?" in path else "?"
    response = audit_app.get(f"{path}{joiner}{name}={quote(instant, safe='')}",
                             headers=audit_app.auditor)  # fmt: skip
    assert response.status_code in (200, 400), (path, name, instant, response.text)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(("", "eq", "gt", "ge", "lt", "le")), fhir_dates())  # fmt: skip
def test_auditevent_dates_at_the_edges_never_fail(
    audit_app: AuditApp, prefix: str, date: str
) -> None:
    url = f"/fhir/AuditEvent?date={quote(prefix + date, safe='')}&_count=1"
    response = audit_app.get(url, headers=audit_app.auditor)
    assert response.status_code in (200, 400), (url, response.text)
