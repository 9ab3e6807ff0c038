"""Hostile query strings on the auditor endpoints and the AuditEvent view: never a 5xx, an
error is always an OperationOutcome (the values go to the store only as bound parameters)."""

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.audit.conftest import AuditApp

NAMES = ["patient", "agent", "date", "entity", "outcome", "_count", "_cursor", "_format",
         "decision", "action", "resource_type", "client", "since", "until", "limit",
         "include_audit", "x"]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["ge2025-01-01", "lt2025", "Patient/pat-00001", "4,8", "-1", "1e9",
                     "2025-02-30", "' OR 1=1 --", "deny", "csv", "ndjson", "\x00", "9" * 30]),
)  # fmt: skip
PATHS = [
    "/fhir/AuditEvent",
    "/fhir/AuditEvent/abc.2",
    "/audit/patients/pat-00001/accesses",
    "/audit/patients/pat-00001/disclosures",
    "/audit/principals/dr-x/accesses",
    "/audit/requests/abc",
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(PATHS),
    params=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=4),
)
def test_no_5xx(audit_app: AuditApp, path: str, params: list[tuple[str, str]]) -> None:
    response = audit_app.get(f"{path}?{urlencode(params)}", headers=audit_app.auditor)
    assert response.status_code < 500, (path, params, response.text)
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
