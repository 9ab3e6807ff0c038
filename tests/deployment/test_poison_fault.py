"""Poison on the raw topic under load: each message is parked in the dead-letter topic with
the reason code of its kind, and the events around it still become evidence exactly once."""

import base64
from collections.abc import Callable

import pytest

from tests.deployment.evidence import topic_messages
from tests.deployment.harness import Deployment
from tests.deployment.scenario import assert_exact, under_fault
from tests.stream.kafka.kafka_support import produce

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
POISON = {  # key -> (value, the code its dead letter must carry)
    b"poison-1": (b"not json {", "event.not_json"),
    b"poison-2": (b'{"v": 1, "events": []}', "event.schema"),
    b"poison-3": (b'{"v": 1, "producer_id": "p", "events": [{"sequence": 1}]}', "event.schema"),
}


def test_poison_messages_are_dead_lettered_with_their_code(
    deploy: Callable[..., Deployment],
) -> None:
    deployment = deploy(apis=1, workers=1)
    deployment.start()

    def inject(d: Deployment) -> None:
        messages = [(key, value) for key, (value, _) in POISON.items()]
        produce(d.bootstrap, f"{d.topic_prefix}fhir.access.raw", messages)

    outcome = under_fault(deployment, "poison messages on the raw topic", inject)
    assert_exact(outcome)
    dead = topic_messages(deployment, "fhir.access.deadletter")
    codes = {base64.b64decode(m["key"]): m["code"] for m in dead}
    assert codes == {key: code for key, (_, code) in POISON.items()}
