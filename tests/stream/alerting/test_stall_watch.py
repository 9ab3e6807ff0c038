"""The stall watch (the imperative side of pipeline_stalled): the gauge follows the rule, the
alert goes through the detector's path (sinks first, then the real store, where the auditor
API reads it), once per stall and at most once per repeat interval while it lasts."""

from typing import Any

import orjson
from prometheus_client import REGISTRY

from evidence.store import EvidenceStore, StoreUnavailable
from stream.alerting.detector import Detector
from stream.alerting.stall_watch import StallWatch
from stream.detection import Alert, DetectionConfig
from stream.detection.stall import STALL_KIND


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def gauge(source: str) -> float | None:
    return REGISTRY.get_sample_value("fhir_evidence_pipeline_stalled", {"source": source})


def test_the_gauge_and_the_alert_follow_a_growing_lag() -> None:
    clock, lag, raised = Clock(), [0], list[Alert]()
    watch = StallWatch("outbox", lambda: lag[0], raised.append, 120, clock, repeat_s=60)
    for _ in range(30):  # 150 s of a lag that only grows
        watch.beat()
        clock.now += 5
        lag[0] += 10
    assert gauge("outbox") == 1 and watch.stalled
    assert len(raised) == 1 and raised[0].kind == STALL_KIND  # raised at 120 s, not again yet
    clock.now += 60
    watch.beat()
    assert len(raised) == 2 and raised[1].alert_id == raised[0].alert_id
    lag[0] = 5  # it fell: moving again
    watch.beat()
    assert gauge("outbox") == 0 and not watch.stalled and len(raised) == 2


def test_an_unknown_lag_is_no_reading_and_a_failing_raise_does_not_stop_the_watch() -> None:
    clock, lag = Clock(), list[int | None]([None])

    def fail(alert: Alert) -> None:
        raise RuntimeError("alert path down")

    watch = StallWatch("consumer", lambda: lag[0], fail, 10, clock)
    watch.beat()
    assert watch.state.since is None
    lag[0] = 3
    for _ in range(4):
        watch.beat()
        clock.now += 5
    watch.beat()
    assert watch.stalled and gauge("consumer") == 1


class Sink:
    enabled = True

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def enqueue(self, key: str, body: bytes) -> None:
        self.bodies.append(body)


class DownStore:
    def __init__(self, store: EvidenceStore) -> None:
        self.store, self.down = store, False

    def upsert_alerts(self, alerts: Any) -> None:
        if self.down:
            raise StoreUnavailable("down")
        self.store.upsert_alerts(alerts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_the_detector_delivers_then_stores_a_system_alert(evidence_store: EvidenceStore) -> None:
    sink, store = Sink(), DownStore(evidence_store)
    detector = Detector(store, DetectionConfig(), lambda now: {}, sinks=(sink,))
    clock, lag, raised = Clock(), [1], list[Alert]()

    def through_detector(alert: Alert) -> None:
        raised.append(alert)
        detector.raise_system(alert)

    watch = StallWatch("consumer", lambda: lag[0], through_detector, 10, clock)
    store.down = True  # the store may be what is stuck: the webhook still hears of it
    for _ in range(3):
        watch.beat()
        clock.now += 6
    assert len(raised) == 1 and orjson.loads(sink.bodies[0])["kind"] == STALL_KIND
    assert evidence_store.alert(raised[0].alert_id) is None
    store.down = False
    detector.raise_system(raised[0])
    stored = evidence_store.alert(raised[0].alert_id)
    assert stored is not None and stored["kind"] == STALL_KIND
    assert stored["principal"] == "system:fhir-evidence/consumer"
