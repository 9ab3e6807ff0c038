"""Granular SMART v2 scopes (`?category=...`) in gateway mode: the e2e tier's tests
unchanged, against the gateway in front of HAPI: a search holds only the granted categories
(one alternative is sent upstream as a criterion, two as one OR list, and every returned
resource is judged again), a read outside the constraint looks missing, writes must meet it.
Alternatives the narrowing cannot say are left to the re-check (a property of
tests/api/data/upstream/test_narrowing.py); the last test here reaches HAPI with one."""

import httpx
import pytest

from tests.e2e.helpers import bearer
from tests.e2e.test_granular_scopes import (  # noqa: F401
    PATIENT,
    _categories,
    test_read_outside_the_constraint_looks_missing,
    test_search_returns_only_the_granted_category,
    test_two_granular_scopes_add_up,
    test_writes_must_meet_the_constraint,
)
from tests.support import TestIssuer

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def test_alternatives_the_upstream_is_not_asked_about_are_still_enforced(
    client: httpx.Client, issuer: TestIssuer
) -> None:
    """Two alternatives on different parameters (a category, or a status with a code): no
    one upstream query says that, so the narrowing leaves them out and the upstream returns
    every Observation of the patient; only those meeting one alternative are shown."""
    scope = (f"patient/Observation.rs?category={CATEGORY}|laboratory "
             "patient/Observation.rs?status=final&code=http://loinc.org|8867-4")  # fmt: skip
    granular = bearer(issuer, "granular-app", scope, patient=PATIENT)
    full = bearer(issuer, "full-app", "patient/Observation.rs", patient=PATIENT)

    def shown(headers: dict[str, str]) -> list[dict[str, object]]:
        bundle = client.get("/fhir/Observation?_count=100", headers=headers).json()
        return [entry["resource"] for entry in bundle.get("entry", [])]

    everything = shown(full)
    expected = {
        str(r["id"]) for r in everything
        if "laboratory" in _categories({"entry": [{"resource": r}]})
        or (r["status"] == "final" and "8867-4" in str(r["code"]))
    }  # fmt: skip
    got = {str(r["id"]) for r in shown(granular)}
    assert expected and got == expected and len(got) < len(everything)
