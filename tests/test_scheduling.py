"""The test command's work units (tests/conftest.py scheduling_unit): every test sharing one
expensive session server lands in one unit, so two workers never start it twice."""

import pytest

from tests.conftest import scheduling_unit


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("tests/e2e/test_bad_input.py::test_hostile_requests[sqlite-/fhir/X/1-404]", "e2e-sqlite"),
        ("tests/e2e/test_writes.py::test_update[postgresql]", "e2e-postgresql"),
        ("tests/e2e/test_alerts.py::test_webhook_outage", "tests/e2e/test_alerts.py"),
        ("tests/gateway/test_cursors.py::test_hostile_requests[/fhir/X/1-404]", "hapi"),
        ("tests/test_hapi_upstream.py::test_crud", "hapi"),
        ("tests/keycloak/test_discovery.py::test_smart", "keycloak"),
        ("tests/conformance/test_corpus.py::test_agreement", "conformance"),
        ("tests/interop/test_hapi_client.py::test_step[read]", "interop"),
        ("tests/browser/test_console.py::test_login", "browser"),
        ("tests/api/fhir/test_prefer.py::test_minimal[sqlite]", "tests/api/fhir/test_prefer.py"),
        ("tests/api/x.py::Case::test_y", "tests/api/x.py"),
    ],
)
def test_each_test_lands_in_the_unit_of_its_server(nodeid: str, unit: str) -> None:
    assert scheduling_unit(nodeid) == unit
