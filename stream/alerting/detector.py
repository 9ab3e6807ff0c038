"""The detection shell: pure rules (stream.detection) over each stored evidence batch, alerts
upserted into the evidence store and handed to their sinks (the webhook queue; with Kafka,
the alerts topic too), detector state kept in the store.

The shell owns its engine and no one else sees it, so batches go through `advance` (the
engine updated in place); persisting re-serialises only the principals that changed.
Suppressions recorded by auditors are read from the store every few seconds (at once after
`actions_changed`) and handed to the rules.

Detection never blocks evidence: it runs after a batch is stored, and its own failures are
logged, not retried against the evidence path.
"""

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
import structlog

from evidence.core import StoreUnavailable
from stream.alerting.detector_state import StateSerializer
from stream.detection import (
    DEFAULT_RULES,
    Alert,
    DetectionConfig,
    DetectionEngine,
    Suppressions,
    advance,
    alert_to_dict,
    compact,
    detection_event_from_row,
    engine_state_from_dict,
)
from stream.metrics import ALERTS_RAISED

log = structlog.get_logger("fhir_evidence.detector")
STATE_KEY = "detection-engine"
CONFIG_KEY = "detection-config"
PERSIST_EVERY_S = 30.0
REDELIVER_UPDATES_AFTER_S = 60.0  # an alert still growing is re-posted at most once a minute
SUPPRESSIONS_EVERY_S = 5.0
SuppressionSource = Callable[[int], Suppressions]  # now (µs) -> the suppressions in force


class DetectorStore(Protocol):
    """What the detector keeps in the evidence store: its alerts and its state."""

    def upsert_alerts(self, alerts: Sequence[dict[str, Any]]) -> None: ...

    def save_state(self, key: str, state: str, now_us: int) -> None: ...

    def load_state(self, key: str) -> str | None: ...


class AlertSink(Protocol):
    """Somewhere alerts are delivered: `key` names the alert and its latest event
    ("<alert id>:<last seen µs>"), `body` is the alert as JSON."""

    @property
    def enabled(self) -> bool: ...

    def enqueue(self, key: str, body: bytes, /) -> object: ...


def rules_fingerprint(config: DetectionConfig) -> str:
    """Names the rules in force: the thresholds and every rule's version."""
    versions = {rule.kind: rule.version for rule in DEFAULT_RULES}
    text = orjson.dumps({"config": config.to_mapping(), "rules": versions},
                        option=orjson.OPT_SORT_KEYS)  # fmt: skip
    return hashlib.sha256(text).hexdigest()[:16]


def alert_row(alert: Alert) -> dict[str, Any]:
    """The store's row of an alert (counts and explanation as JSON texts)."""
    data = alert_to_dict(alert)
    data["counts"] = orjson.dumps(data["counts"]).decode()
    data["explanation"] = orjson.dumps(data["explanation"]).decode()
    return data


class Detector:
    def __init__(
        self,
        store: DetectorStore,
        config: DetectionConfig,
        suppressions: SuppressionSource,
        sinks: Sequence[AlertSink] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._config = store, config
        self._sinks = tuple(sink for sink in sinks if sink.enabled)
        self._clock = clock
        self._read_suppressions = suppressions
        self._suppressed: Suppressions = {}
        self._suppressions_at = float("-inf")
        self._serializer = StateSerializer()
        self._state = self._load()
        self._saved_at = clock()
        self._posted: dict[str, float] = {}
        self.alerts_raised = 0
        self.fingerprint = rules_fingerprint(config)
        self.rules_changed = store.load_state(CONFIG_KEY) != self.fingerprint

    def rules_recorded(self) -> None:
        """The change of rules is in the evidence now: remember this fingerprint."""
        self._store.save_state(CONFIG_KEY, self.fingerprint, int(self._clock() * 1_000_000))
        self.rules_changed = False

    def _load(self) -> DetectionEngine:
        saved = self._store.load_state(STATE_KEY)
        if not saved:
            return DetectionEngine()
        try:
            return engine_state_from_dict(orjson.loads(saved))
        except (ValueError, KeyError, TypeError):
            log.warning("detector state unreadable; starting fresh")
            return DetectionEngine()

    def observe(
        self, rows: Sequence[dict[str, Any]], enrichments: Sequence[Mapping[str, Any]]
    ) -> list[Alert]:
        """Run the rules over one stored batch (rows and their enrichments, in order);
        returns the alerts raised or updated."""
        events = [detection_event_from_row(r, e) for r, e in zip(rows, enrichments, strict=True)]
        alerts = advance(self._state, events, self._config, suppressed=self._suppressions())
        self._serializer.touched({event.principal for event in events})
        if alerts:
            self._store.upsert_alerts([alert_row(alert) for alert in alerts])
            self._deliver(alerts)
            self.alerts_raised += len(alerts)
            ALERTS_RAISED.inc(len(alerts))
        if self._clock() - self._saved_at >= PERSIST_EVERY_S:
            self.persist()
        return alerts

    def raise_system(self, alert: Alert) -> None:
        """An alert about the pipeline itself (pipeline_stalled), not drawn from evidence:
        handed to the sinks first (the webhook queue is local and durable), then stored;
        the store may be the very thing that is down."""
        self._deliver([alert])
        self.alerts_raised += 1
        ALERTS_RAISED.inc()
        try:
            self._store.upsert_alerts([alert_row(alert)])
        except StoreUnavailable:
            log.warning("system alert not stored; the store is unavailable", kind=alert.kind)

    def actions_changed(self) -> None:
        """An auditor just acknowledged or suppressed an alert (recorded in the store):
        read the suppressions again before the next batch."""
        self._suppressions_at = float("-inf")

    def _suppressions(self) -> Suppressions:
        now = self._clock()
        if now - self._suppressions_at >= SUPPRESSIONS_EVERY_S:
            try:
                self._suppressed = self._read_suppressions(int(now * 1_000_000))
                self._suppressions_at = now
            except StoreUnavailable:
                log.warning("suppressions unreadable; keeping the last ones")
        return self._suppressed

    def _deliver(self, alerts: list[Alert]) -> None:
        if not self._sinks:
            return
        now = self._clock()
        for alert in alerts:
            last = self._posted.get(alert.alert_id)
            if last is not None and now - last < REDELIVER_UPDATES_AFTER_S:
                continue
            self._posted[alert.alert_id] = now
            body = orjson.dumps(alert_to_dict(alert))
            for sink in self._sinks:
                sink.enqueue(f"{alert.alert_id}:{alert.last_seen_us}", body)
        if len(self._posted) > 10_000:
            self._posted = dict(list(self._posted.items())[-5_000:])

    def persist(self) -> None:
        now = self._clock()
        self._state = compact(self._state, int(now * 1_000_000), self._config)
        state = self._serializer.dumps(self._state).decode()
        self._store.save_state(STATE_KEY, state, int(now * 1_000_000))
        self._saved_at = now
