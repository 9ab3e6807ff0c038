"""The Kafka broker stopped for 20 s under load, then started again (same port and data):
the replicas keep answering, their outboxes grow, every process's /readyz names kafka, and the
relays and workers catch up."""

import time
from collections.abc import Callable

import httpx
import pytest

from tests.deployment.harness import Deployment, Proc
from tests.deployment.scenario import assert_exact, under_fault
from tests.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
DOWN_S = 20.0


def failing_checks(proc: Proc) -> list[str]:
    answer = httpx.get(f"{proc.url}/readyz", timeout=2)
    return list(answer.json().get("failing", [])) if answer.status_code == 503 else []


def test_broker_stopped_for_20_seconds(
    deploy: Callable[..., Deployment], kafka_broker: KafkaBroker
) -> None:
    deployment = deploy(apis=1, workers=1)
    deployment.start()
    seen: dict[str, tuple[float, list[str]]] = {}  # name -> (seconds to notice, failing)

    def outage(d: Deployment) -> None:
        kafka_broker.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < DOWN_S:  # noticed, not silent
            for proc in d.procs.values():
                failing = failing_checks(proc) if proc.name not in seen else []
                if failing:
                    seen[proc.name] = (round(time.monotonic() - stopped, 1), failing)
            time.sleep(0.5)
        kafka_broker.start()

    assert_exact(under_fault(deployment, f"broker stopped for {DOWN_S:.0f}s", outage))
    print(f"[fault] broker down: /readyz (seconds after the stop, failing checks) {seen}")
    # The worker's consumer notices within a second; a replica's relay through its metadata
    # heartbeat (every 2 s, 5 s timeout), also while a send waits for its acknowledgement.
    assert "kafka" in seen["worker-1"][1], seen
    assert "kafka" in seen["api-1"][1] and seen["api-1"][0] <= 10.0, seen
