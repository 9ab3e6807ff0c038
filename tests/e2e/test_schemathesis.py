"""API fuzzing with schemathesis over the server's own OpenAPI schema, with a valid token:
never a 5xx, every error an OperationOutcome that discloses nothing internal."""

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.e2e.helpers import FORBIDDEN_IN_ERRORS
from tests.support import ServerProcess, TestIssuer

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                database=None)  # fmt: skip


def test_fuzzing_finds_no_5xx(server: ServerProcess, issuer: TestIssuer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {issuer.token('fuzz', 'system/*.cruds')}"}
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(operation.as_strategy())
        def fuzz(case: Any) -> None:
            nonlocal calls
            response = case.call(headers=headers)
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            if response.status_code >= 400:
                assert '"OperationOutcome"' in response.text, response.text
                assert not any(leak in response.text for leak in FORBIDDEN_IN_ERRORS)

        fuzz()
    assert calls > 100
    assert failures == []
