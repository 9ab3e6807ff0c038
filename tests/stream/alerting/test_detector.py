"""The detector shell: alerts to the store, state persisted and restored, suppressions."""

from typing import Any

import orjson

from stream.alerting.detector import STATE_KEY, Detector
from stream.detection import (
    DetectionConfig,
    DetectionEngine,
    compact,
    detect,
    detection_event_from_row,
    engine_state_to_dict,
)
from tests.stream.detection.support import T0, S

NOW_S = T0 / S + 30  # the clock of the shell: the events are recent


class FakeStore:
    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.alerts: list[dict[str, Any]] = []

    def load_state(self, key: str) -> str | None:
        return self.state.get(key)

    def save_state(self, key: str, state: str, now_us: int) -> None:
        self.state[key] = state

    def upsert_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self.alerts.extend(alerts)


def denials(sub: str, count: int, first: int = 0) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{sub}-{n}", "request_id": f"req-{sub}-{n}", "ts_us": T0 + n * S,
         "sub": sub, "decision": "deny", "status": 403, "action": "read"}
        for n in range(first, first + count)
    ]  # fmt: skip


class Suppressions:
    def __init__(self) -> None:
        self.muted: dict[tuple[str, str], int] = {}
        self.reads = 0

    def __call__(self, now_us: int) -> dict[tuple[str, str], int]:
        self.reads += 1
        return dict(self.muted)


class Sink:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.items: list[tuple[str, bytes]] = []

    def enqueue(self, key: str, body: bytes) -> None:
        self.items.append((key, body))


def detector(
    store: FakeStore, source: Suppressions | None = None, sinks: tuple[Sink, ...] = ()
) -> Detector:
    return Detector(store, DetectionConfig(), source or Suppressions(), sinks,  # type: ignore[arg-type]
                    clock=lambda: NOW_S)  # fmt: skip


def test_alerts_and_the_state_match_the_pure_engine() -> None:
    store = FakeStore()
    shell = detector(store)
    rows = [*denials("scanner", 25), *denials("dr-bob", 3)]
    for start in range(0, len(rows), 7):
        shell.observe(rows[start : start + 7], [{}] * len(rows[start : start + 7]))
    shell.persist()
    events = [detection_event_from_row(row) for row in rows]
    state, alerts = detect(DetectionEngine(), events)
    assert {a["alert_id"] for a in store.alerts} == {a.alert_id for a in alerts}
    expected = engine_state_to_dict(compact(state, int(NOW_S * S)))
    assert orjson.loads(store.state[STATE_KEY]) == expected

    restarted = detector(store)  # picks up where it stopped
    restarted.observe(denials("scanner", 5, first=25), [{}] * 5)
    assert store.alerts[-1]["counts"] == orjson.dumps({"denials_1m": 30, "status_403": 30}).decode()


def test_a_suppression_mutes_its_kind_and_principal_until_its_end() -> None:
    store, source = FakeStore(), Suppressions()
    shell = detector(store, source)
    shell.observe(denials("scanner", 1), [{}])
    source.muted[("denied_burst", "scanner")] = T0 + 22 * S
    shell.actions_changed()  # read again before the next batch
    shell.observe([*denials("scanner", 21, first=1), *denials("other", 20)], [{}] * 41)
    assert source.reads == 2
    assert [a["principal"] for a in store.alerts] == ["other"]
    shell.observe(denials("scanner", 1, first=22), [{}])  # at T0 + 22 s: no longer muted
    [alert] = [a for a in store.alerts if a["principal"] == "scanner"]
    assert orjson.loads(alert["counts"])["denials_1m"] == 23  # nothing was lost meanwhile


def test_alerts_go_to_every_enabled_sink_once_a_minute_while_they_grow() -> None:
    webhook, topic, off = Sink(), Sink(), Sink(enabled=False)
    shell = detector(FakeStore(), sinks=(webhook, topic, off))
    raised = shell.observe(denials("scanner", 25), [{}] * 25)
    assert [a.kind for a in raised] == ["denied_burst"]
    grown = shell.observe(denials("scanner", 5, first=25), [{}] * 5)
    assert [a.alert_id for a in grown] == [raised[0].alert_id]  # updated, not re-posted yet
    assert webhook.items == topic.items and len(webhook.items) == 1 and off.items == []
    key, body = webhook.items[0]
    assert key.startswith(f"{raised[0].alert_id}:") and orjson.loads(body)["kind"] == "denied_burst"
