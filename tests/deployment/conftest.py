"""Fixtures of the deployment tests: a Deployment of the test's own on the session's broker
(topics and consumer group unique to the test), every process stopped afterwards."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import Deployment
from tests.support import TestIssuer


@pytest.fixture(scope="session")
def demo_fhir_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data set in a fhir.sqlite, loaded once (`fhir-evidence seed`) and copied
    into each replica's data dir: a replica then starts in seconds."""
    data_dir = tmp_path_factory.mktemp("demo-fhir-data")
    env = dict(os.environ, FHIR_EVIDENCE_DATA_DIR=str(data_dir))
    subprocess.run([sys.executable, "-m", "api.boot.cli", "seed"], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    return data_dir / "fhir.sqlite"


@pytest.fixture
def deploy(
    tmp_path: Path, kafka_bootstrap: str, demo_fhir_data: Path
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(apis: int = 1, workers: int = 1, **env: str) -> Deployment:
        deployment = Deployment(tmp_path, kafka_bootstrap, TestIssuer(), env=env,
                                fhir_data=demo_fhir_data)  # fmt: skip
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
