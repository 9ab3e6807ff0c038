"""Readiness of a process as named checks over cached state (stdlib only).

Each check answers from state the pipeline's tasks keep up to date (a relay that is
connected, a step that is not waiting for the store, a probe result refreshed by the
watchdog), so a probe of `/readyz` costs no round trip to any server. The names are the
operator's vocabulary (docs/operations.md, "Pipeline health"); a check that does not apply
to a process's role is simply not registered.
"""

import threading
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger("fhir_evidence.health")
Check = Callable[[], bool]
CHECK_NAMES = ("fhir_store", "outbox", "kafka", "relay", "workers", "evidence_store")


def failing(results: Mapping[str, bool]) -> list[str]:
    """The names of the checks that do not hold, in the documented order."""
    order = {name: i for i, name in enumerate(CHECK_NAMES)}
    return sorted((n for n, ok in results.items() if not ok), key=lambda n: order.get(n, 99))


def readiness(failed: list[str]) -> tuple[int, dict[str, object]]:
    """The /readyz answer: 200 `{"status": "ok"}` or 503 naming the failing checks."""
    if not failed:
        return 200, {"status": "ok"}
    return 503, {"status": "unavailable", "failing": failed}


class Probe:
    """A check whose answer is refreshed now and then (by the watchdog), not per request:
    `refresh` runs `work` (True unless it raises or returns False), `__call__` reads."""

    def __init__(self, name: str, work: Callable[[], object]) -> None:
        self.name, self._work = name, work
        self._ok = True

    def refresh(self) -> bool:
        try:
            ok = self._work() is not False
        except Exception as exc:  # the probe failing is the answer
            ok = False
            if self._ok:
                log.warning("health probe failing", check=self.name, error=type(exc).__name__)
        self._ok = ok
        return ok

    def __call__(self) -> bool:
        return self._ok


class Health:
    """The checks of one process, by name; `failing()` evaluates them (cheap: cached)."""

    def __init__(self) -> None:
        self._checks: dict[str, list[Check]] = {}
        self._probes: list[Probe] = []
        self._lock = threading.Lock()

    def add(self, name: str, check: Check) -> None:
        """Several checks under one name must all hold."""
        if name not in CHECK_NAMES:
            raise ValueError(f"unknown check {name!r}")
        with self._lock:
            self._checks.setdefault(name, []).append(check)
            if isinstance(check, Probe):
                self._probes.append(check)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    def refresh_probes(self) -> None:
        for probe in list(self._probes):
            probe.refresh()

    def failing(self) -> list[str]:
        with self._lock:
            checks = {name: list(found) for name, found in self._checks.items()}
        return failing({name: all(_holds(c) for c in found) for name, found in checks.items()})


def _holds(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
