"""GET /metrics (api/http/metrics.py; here for the shared in-process app): Prometheus text with
request counts by status and decision, pipeline levels, rows stored; no identifiers."""

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.api.audit.conftest import AuditApp


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_and_report_levels(audit_app: AuditApp) -> None:
    before = _samples(audit_app.get("/metrics").text)
    reader = audit_app.headers("metrics-reader", "system/Patient.rs")
    assert audit_app.get("/fhir/Patient/pat-00001", headers=reader).status_code == 200
    assert audit_app.get("/fhir/Patient/pat-00001").status_code == 401
    audit_app.settle()
    response = audit_app.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("fhir_evidence_requests_total", status="200", decision="allow") >= 1
    assert grew("fhir_evidence_requests_total", status="401", decision="deny") >= 1
    assert grew("fhir_evidence_sink_rows_total", runtime="inline") >= 2
    assert after[("fhir_evidence_pipeline_lag_events", ())] >= 0
    assert after[("fhir_evidence_outbox_last_sequence", ())] >= 2


def test_metrics_hold_no_identifiers(audit_app: AuditApp) -> None:
    text = audit_app.get("/metrics").text
    assert not re.search(r"pat-\d+|metrics-reader|auditor-x", text)
