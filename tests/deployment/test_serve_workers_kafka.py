"""`serve --role api --workers 2` on the real broker with `fhir-evidence worker` beside it
(issue 19, Kafka mode): two API processes on one port, each relaying its own outbox (its own
producer); every answered request's evidence reaches the worker's store exactly once, from
both producers, also across a broker outage during which both processes keep serving; and
/readyz says what is true whichever process answers: 200 while both relay, 503 naming
`kafka` while the broker is away, 200 again once it is back.

The worker holds its evidence store (chDB in its data dir: this machine has no ClickHouse
server), so the evidence is read from it after the deployment stopped (as the other
deployment tests do), not through the API processes' auditor API: with a shared ClickHouse
server (FHIR_EVIDENCE_CLICKHOUSE_URL) that is where it would be counted."""

import os
import shutil
from collections.abc import Callable

import httpx
import pytest

from tests.deployment.evidence import judge, read_producers, read_store, wait_recovered
from tests.deployment.harness import Deployment
from tests.kafka_broker import KafkaBroker
from tests.support import serve_children, wait_for

pytestmark = [pytest.mark.kafka]
PROBES = 12  # /readyz probes, each on a new connection (the kernel picks the process)


def _every_probe_says(url: str, status: int, failing: str | None = None) -> bool:
    for _ in range(PROBES):
        try:
            answer = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.HTTPError:
            return False
        if answer.status_code != status:
            return False
        if failing is not None and failing not in answer.json().get("failing", []):
            return False
    return True


def _reads(url: str, token: str, count: int) -> list[str]:
    """`count` reads, each on a new connection; the request ids of the answers."""
    ids = []
    for n in range(count):
        response = httpx.get(f"{url}/fhir/Patient/pat-{n % 200 + 1:05d}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-request-id"])
    return ids


def _own_broker(request: pytest.FixtureRequest) -> KafkaBroker | None:
    """The session's jar broker, which this test may stop and start; None when the broker is
    someone else's (KAFKA_BOOTSTRAP) or a container."""
    if os.environ.get("KAFKA_BOOTSTRAP") or not (shutil.which("java") and shutil.which("mvn")):
        return None
    broker: KafkaBroker = request.getfixturevalue("kafka_broker")
    return broker


def test_two_api_processes_relay_every_event_once(
    deploy: Callable[..., Deployment], request: pytest.FixtureRequest
) -> None:
    deployment = deploy(apis=1, workers=1, FHIR_EVIDENCE_WORKERS="2",
                        FHIR_EVIDENCE_WORKER_METRICS_INTERVAL_S="0.5")  # fmt: skip
    deployment.start()
    api = deployment.procs["api-1"]
    assert api.popen is not None
    assert sorted(serve_children(api.popen.pid).values()) == [
        "api",
        "api",
    ]  # with Kafka: no pipeline process
    assert wait_for(lambda: _every_probe_says(api.url, 200), timeout=30)
    token = deployment.issuer.token("kafka-reader", "system/*.rs", sensitivity_clearance=["R", "V"])
    answered = _reads(api.url, token, 60)

    broker = _own_broker(request)
    if broker is None:
        print("[serve --workers 2, kafka] the broker is not this session's: no outage")
    else:
        broker.stop()
        assert wait_for(lambda: _every_probe_says(api.url, 503, "kafka"), timeout=60)
        answered += _reads(api.url, token, 30)  # served: the evidence waits in the outboxes
        broker.start()
        assert wait_for(lambda: _every_probe_says(api.url, 200), timeout=120, interval=0.5)
    answered += _reads(api.url, token, 20)

    wait_recovered(deployment, timeout=120)
    assert sorted(api.outbox_files()) == ["outbox-1.sqlite", "outbox.sqlite"]
    deployment.stop()  # the API processes drain their relays, then the worker its batch
    (worker,) = deployment.workers
    verdict = judge(answered, {worker.name: read_store(worker.data_dir)})
    assert not verdict.missing, f"{len(verdict.missing)} without evidence: {verdict.missing[:5]}"
    assert not verdict.duplicated, f"{len(verdict.duplicated)} twice: {verdict.duplicated[:5]}"
    producers = read_producers(worker.data_dir)
    assert len({producers[request_id] for request_id in answered}) == 2  # both processes
    print(f"[serve --workers 2, kafka] {len(answered)} answered, each stored once, "
          f"from 2 producers")  # fmt: skip
