"""The imperative side of the `pipeline_stalled` rule (stream.detection.stall): read a lag
on each beat of the watchdog, fold it in, publish the gauge, raise or update the alert
while the stall lasts (at most once per `repeat_s`)."""

import time
from collections.abc import Callable

import structlog

from stream.detection import Alert
from stream.detection.stall import StallState, is_stalled, observe_lag, stall_alert
from stream.metrics import PIPELINE_STALLED

log = structlog.get_logger("fhir_evidence.stall")
RaiseAlert = Callable[[Alert], None]


class StallWatch:
    def __init__(
        self,
        source: str,
        read_lag: Callable[[], int | None],
        raise_alert: RaiseAlert,
        bound_s: float,
        clock: Callable[[], float] = time.time,
        repeat_s: float = 60.0,
    ) -> None:
        """`source` ("outbox", "consumer") labels the gauge and names the alert;
        `read_lag` returns None while the lag is unknown (no reading is folded in)."""
        self.source, self._read, self._raise = source, read_lag, raise_alert
        self._bound_s, self._clock, self._repeat_s = bound_s, clock, repeat_s
        self.state = StallState()
        self.stalled = False
        self._raised_at: float | None = None
        PIPELINE_STALLED.labels(source=source).set(0)

    def beat(self) -> None:
        lag, now = self._read(), self._clock()
        if lag is None:
            return
        self.state = observe_lag(self.state, lag, now)
        stalled = is_stalled(self.state, now, self._bound_s)
        if stalled != self.stalled:
            log.log(40 if stalled else 20, "pipeline stalled" if stalled else "pipeline moving",
                    source=self.source, lag=lag)  # fmt: skip
        self.stalled = stalled
        PIPELINE_STALLED.labels(source=self.source).set(1 if stalled else 0)
        if not stalled:
            self._raised_at = None
            return
        if self._raised_at is None or now - self._raised_at >= self._repeat_s:
            self._raised_at = now
            try:
                self._raise(stall_alert(self.source, self.state, now, self._bound_s))
            except Exception:  # the alert path failing must not stop the watch
                log.exception("pipeline_stalled alert not raised", source=self.source)
