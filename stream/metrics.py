"""Pipeline metrics (Prometheus): counts and levels only, never an identifier in a label.
Labels hold runtimes, stages, sources, task names, reason codes, outcomes, topic names and
partition numbers."""

from prometheus_client import Counter, Gauge, Histogram

RELAY_LAG = Gauge("fhir_evidence_relay_lag_events", "Outbox events not yet acknowledged by Kafka")
EVIDENCE_ROWS = Counter(
    "fhir_evidence_sink_rows", "Evidence rows stored in the evidence store", ["runtime"]
)
SINK_BATCH_SECONDS = Histogram(
    "fhir_evidence_sink_batch_seconds",
    "Time to store one batch in the evidence store, retries while it is down included",
    ["runtime"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
DEAD_LETTERS = Counter(
    "fhir_evidence_dead_letters",
    "Messages or events parked as dead letters, by pipeline stage and reason code",
    ["stage", "code"],
)
CONSUMER_LAG = Gauge(
    "fhir_evidence_consumer_lag_messages",
    "Kafka messages of a partition this process consumes not yet committed by its group",
    ["topic", "partition"],
)
CONSUMER_STALLED = Gauge(
    "fhir_evidence_consumer_commit_stalled_seconds",
    "Seconds a partition has been behind while its committed offset did not move (0: caught up"
    " or moving)",
    ["topic", "partition"],
)
ALERT_DELIVERIES = Counter(
    "fhir_evidence_alert_deliveries", "Alert webhook delivery attempts", ["outcome"]
)
ALERTS_RAISED = Counter("fhir_evidence_alerts", "Alerts raised or updated by detection")
TASK_RESTARTS = Counter(
    "fhir_evidence_task_restarts", "Pipeline tasks restarted by the watchdog", ["task"]
)
PIPELINE_STALLED = Gauge(
    "fhir_evidence_pipeline_stalled",
    "1 while the pipeline's lag (source: outbox or consumer) has not fallen for the stall bound",
    ["source"],
)
