"""Fixtures of the deployment tests: a Deployment of the test's own on the session's broker
(topics and consumer group unique to the test), every process stopped afterwards."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import Deployment
from tests.support import TestIssuer


@pytest.fixture
def deploy(
    tmp_path: Path, kafka_bootstrap: str, record_property: Callable[[str, object], None]
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(apis: int = 1, workers: int = 1, **env: str) -> Deployment:
        deployment = Deployment(tmp_path, kafka_bootstrap, TestIssuer(), env=env)
        for n in range(apis):
            deployment.add(f"api-{n + 1}", "api")
        for n in range(workers):
            deployment.add(f"worker-{n + 1}", "worker")
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        for proc in deployment.procs.values():
            proc.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/deployment/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
