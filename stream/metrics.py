"""Pipeline metrics (Prometheus): counts and levels only, never an identifier in a label."""

from prometheus_client import Counter, Gauge

RELAY_LAG = Gauge("fhir_evidence_relay_lag_events", "Outbox events not yet acknowledged by Kafka")
EVIDENCE_ROWS = Counter(
    "fhir_evidence_sink_rows", "Evidence rows stored in the evidence store", ["runtime"]
)
ALERT_DELIVERIES = Counter(
    "fhir_evidence_alert_deliveries", "Alert webhook delivery attempts", ["outcome"]
)
ALERTS_RAISED = Counter("fhir_evidence_alerts", "Alerts raised or updated by detection")
