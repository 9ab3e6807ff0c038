"""The Kafka broker stopped for 20 s under load, then started again (same port and data):
the replicas keep answering, their outboxes grow, and the relays and workers catch up."""

from collections.abc import Callable

import pytest

from tests.deployment.harness import Deployment
from tests.deployment.scenario import assert_exact, under_fault
from tests.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
DOWN_S = 20.0


def test_broker_stopped_for_20_seconds(
    deploy: Callable[..., Deployment], kafka_broker: KafkaBroker
) -> None:
    deployment = deploy(apis=1, workers=1)
    deployment.start()

    def outage(d: Deployment) -> None:
        kafka_broker.restart(down_for=DOWN_S)

    assert_exact(under_fault(deployment, f"broker stopped for {DOWN_S:.0f}s", outage))
