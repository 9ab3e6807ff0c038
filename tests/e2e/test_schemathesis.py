"""API fuzzing with schemathesis over the server's own OpenAPI schema, with a valid token:
never a 5xx, every error an OperationOutcome that discloses nothing internal. Besides what
the schema generates, date parameters often get valid FHIR dates at the calendar's edges
(years 0001 and 9999, every precision, offsets ±14:00, every prefix)."""

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data.indexing import SEARCH_PARAMS
from tests.api.data.test_boundary_dates import PREFIXES, fhir_dates
from tests.e2e.helpers import FORBIDDEN_IN_ERRORS
from tests.support import ServerProcess, TestIssuer

DATE_SEARCHES = sorted(
    (rtype, name) for rtype, params in SEARCH_PARAMS.items()
    for name, param in params.items() if param.kind == "date"
)  # fmt: skip
INSTANT_PARAMS = ("since", "until")  # the auditor API's window, on every audit list
BOUNDARY = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(DATE_SEARCHES), st.sampled_from(PREFIXES), fhir_dates()),
)


def with_boundary_dates(case: Any, drawn: tuple[tuple[str, str], str, str] | None) -> bool:
    """A FHIR search gets a boundary date on a date parameter of its type; an auditor list
    (its path under /audit/) a boundary instant as `since` or `until`. Whether it did."""
    if drawn is None or case.method != "GET":
        return False
    (rtype, name), prefix, date = drawn
    if case.path == "/fhir/{resource_type}":
        case.path_parameters = {**(case.path_parameters or {}), "resource_type": rtype}
        case.query = {name: prefix + date}
        return True
    if case.path.startswith("/audit/") and "T" in date:
        case.query = {**(case.query or {}), INSTANT_PARAMS[len(date) % 2]: date}
        return True
    return False


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                database=None)  # fmt: skip


def test_fuzzing_finds_no_5xx(server: ServerProcess, issuer: TestIssuer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {issuer.token('fuzz', 'system/*.cruds')}"}
    failures: list[str] = []
    calls = boundary_calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(operation.as_strategy(), BOUNDARY)
        def fuzz(case: Any, boundary: tuple[tuple[str, str], str, str] | None) -> None:
            nonlocal calls, boundary_calls
            boundary_calls += with_boundary_dates(case, boundary)
            response = case.call(headers=headers)
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code}")  # fmt: skip
            if response.status_code >= 400:
                assert '"OperationOutcome"' in response.text, response.text
                assert not any(leak in response.text for leak in FORBIDDEN_IN_ERRORS)

        fuzz()
    assert calls > 100 and boundary_calls > 10
    assert failures == []
