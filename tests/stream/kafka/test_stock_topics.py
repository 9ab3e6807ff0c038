"""On a stock broker (auto-create on, num.partitions=3): `serve` creates its topics with the
configured partitions and configs before anything touches them, and nothing it or the worker
does lets the broker auto-create one; a pre-existing topic of the wrong shape makes `serve
--role api` and `worker` exit non-zero, naming the topic and the fix."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream.kafka.topology import TopicNames, topology
from tests.support import ServerProcess, TestIssuer, free_port, wait_for

pytestmark = pytest.mark.kafka
PARTITIONS = 4  # neither the broker's default (3) nor the setting's (6)


async def shapes(bootstrap: str, prefix: str) -> dict[str, tuple[int, dict[str, str]]]:
    """Every topic whose name starts with `prefix`: its partitions and configs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if not names:
            return {}
        described = await admin.describe_topics(names)  # they exist: nothing is created
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        answers = await admin.describe_configs(resources)
        configs = {r[3]: {e[0]: e[1] for e in r[4]} for a in answers for r in a.resources}
        return {t["topic"]: (len(t["partitions"]), configs[t["topic"]]) for t in described}
    finally:
        await admin.close()


def kafka_env(bootstrap: str, prefix: str) -> dict[str, str]:
    return {
        "FHIR_EVIDENCE_KAFKA_BOOTSTRAP": bootstrap,
        "FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX": prefix,
        "FHIR_EVIDENCE_KAFKA_GROUP": f"{prefix}group",
        "FHIR_EVIDENCE_KAFKA_PARTITIONS": str(PARTITIONS),
    }


def test_serve_creates_its_topics_with_their_partitions_and_configs(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    prefix = f"stock{uuid.uuid4().hex[:6]}."
    env = kafka_env(kafka_bootstrap, prefix)
    server = ServerProcess(tmp_path / "data", TestIssuer(), extra_env=env).start(timeout=120)
    try:
        wait_for(lambda: httpx.get(f"{server.base_url}/readyz").status_code == 200, 90)
        httpx.get(f"{server.base_url}/fhir/metadata")  # an event through relay and agent
        found = asyncio.run(shapes(kafka_bootstrap, prefix))
        server.terminate()  # (uvicorn re-raises SIGTERM after its graceful shutdown)
    finally:
        if server.process and server.process.poll() is None:
            server.kill()
    names = TopicNames(prefix)
    leader = f"{prefix}group-__assignor-__leader"  # faust's own, for leader election
    print({name: shape[0] for name, shape in found.items()})
    assert set(found) == {names.raw, names.alerts, names.dead_letter, leader}, found
    assert found[leader][0] == 1  # declared by faust, not auto-created (3)
    for spec in topology(PARTITIONS, names=names):
        partitions, configs = found[spec.name]
        assert partitions == spec.partitions, spec.name
        assert {k: configs[k] for k in spec.configs} == spec.configs, spec.name
    log = server.log_text()
    assert log.count("kafka topics created") == 1, log


def run_cli(args: list[str], env: dict[str, str], data: Path) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, FHIR_EVIDENCE_DATA_DIR=str(data), **env,
                FHIR_EVIDENCE_WORKER_METRICS_PORT=str(free_port()))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "api.boot.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_a_topic_of_the_wrong_shape_stops_serve_and_worker(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    prefix = f"wrong{uuid.uuid4().hex[:6]}."
    names = TopicNames(prefix)

    async def precreate() -> None:  # what a broker's auto-creation leaves: 3 partitions
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(names.raw, 3, 1)])
        finally:
            await admin.close()

    asyncio.run(precreate())
    env = kafka_env(kafka_bootstrap, prefix)
    port = str(free_port())
    serve = run_cli(["serve", "--role", "api", "--port", port], env, tmp_path / "api")
    worker = run_cli(["worker"], env, tmp_path / "worker")
    for name, done in (("serve", serve), ("worker", worker)):
        assert done.returncode == 78, (name, done.returncode, done.stderr[-2000:])
        said = done.stderr
        assert "Kafka topics of the wrong shape" in said, (name, said[-2000:])
        assert f"{names.raw}: 3 partitions, expected {PARTITIONS}" in said
        assert "FHIR_EVIDENCE_KAFKA_PARTITIONS=3" in said and "--delete --topic" in said
        assert "kafka-configs.sh" in said and "retention.ms=259200000" in said
    assert asyncio.run(shapes(kafka_bootstrap, prefix))[names.raw][0] == 3  # left as it was
