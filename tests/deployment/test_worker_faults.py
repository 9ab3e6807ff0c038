"""Faults of the stream workers: one killed with SIGKILL mid-batch while another runs (the
survivor takes its partitions over), and a second worker joining while batches are in
flight (a rebalance)."""

from collections.abc import Callable

import pytest

from tests.deployment.harness import Deployment
from tests.deployment.scenario import assert_exact, under_fault

pytestmark = [pytest.mark.kafka, pytest.mark.faults]


def test_worker_killed_mid_batch_survivor_takes_over(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=1, workers=2)
    deployment.start()

    def kill_one(d: Deployment) -> None:
        d.procs["worker-1"].kill()

    outcome = under_fault(deployment, "worker killed -9 (two workers)", kill_one)
    assert_exact(outcome)
    assert outcome.recovery_s <= 15.0, "the survivor should take the partitions within 15 s"


def test_worker_joins_while_batches_are_in_flight(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=1, workers=1)
    deployment.start()
    deployment.add("worker-2", "worker")

    def join(d: Deployment) -> None:  # the group rebalances under load
        d.start("worker-2")

    assert_exact(under_fault(deployment, "rebalance: a second worker joins", join))
