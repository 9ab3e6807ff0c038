"""Faults of the API replicas: one killed with SIGKILL and restarted, a replica with a fresh
data dir (a new producer) joining topics that hold another's events, and a rolling restart
of two replicas, one at a time."""

import signal
import time
from collections.abc import Callable

import pytest

from tests.deployment.harness import Deployment
from tests.deployment.scenario import assert_exact, under_fault

pytestmark = [pytest.mark.kafka, pytest.mark.faults]


def test_replica_killed_and_restarted(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=2, workers=1)
    deployment.start()

    def crash(d: Deployment) -> None:
        replica = d.procs["api-1"]
        replica.kill()  # its answered requests are in its outbox already (write-ahead)
        time.sleep(2.0)
        replica.launch().wait_ready()

    assert_exact(under_fault(deployment, "API replica killed -9 and restarted", crash))


def test_new_replica_with_fresh_data_dir(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=1, workers=1)
    deployment.start()
    deployment.add("api-2", "api")  # its own, empty data dir: a new producer id

    def join(d: Deployment) -> None:
        d.start("api-2")

    outcome = under_fault(deployment, "API replica with a fresh data dir joins", join)
    assert_exact(outcome)


def test_rolling_restart_of_two_replicas(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=2, workers=1)
    deployment.start()

    def roll(d: Deployment) -> None:  # the procedure of docs/operations.md, one at a time
        for replica in d.apis:
            assert replica.terminate() in (0, -signal.SIGTERM), replica.log_tail()
            replica.launch().wait_ready()

    assert_exact(under_fault(deployment, "rolling restart of two replicas", roll))
