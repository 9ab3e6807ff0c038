"""`fhir-evidence serve` with FHIR_EVIDENCE_KAFKA_BOOTSTRAP: the same contract through the
relay, Kafka and the faust agents in the same process — evidence within 5 s, alerts in the
store, on the webhook and in `fhir.alerts`, and an intact chain."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.boot.workers import available_cores
from tests.e2e.test_alerts import Receiver
from tests.stream.kafka.kafka_support import consume_all
from tests.support import ServerProcess, TestIssuer, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


class DefaultWorkers(ServerProcess):
    """`serve` as an operator runs it: FHIR_EVIDENCE_WORKERS unset (one API process per
    core where the mode allows it; with Kafka and --role all, one)."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("FHIR_EVIDENCE_WORKERS", None)
        return env


@pytest.fixture(scope="module")
def kafka_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[tuple[ServerProcess, TestIssuer, Receiver, str]]:
    issuer, receiver = TestIssuer(), Receiver()
    prefix = f"e2e{uuid.uuid4().hex[:6]}."
    env = {
        "FHIR_EVIDENCE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FHIR_EVIDENCE_KAFKA_TOPIC_PREFIX": prefix,
        "FHIR_EVIDENCE_KAFKA_GROUP": f"{prefix}group",
        "FHIR_EVIDENCE_ALERT_WEBHOOK_URL": receiver.url,
        "FHIR_EVIDENCE_ALERT_WEBHOOK_SECRET": "s3cret",
        "FHIR_EVIDENCE_CHECKPOINT_INTERVAL_S": "1",
    }
    base: Path = tmp_path_factory.mktemp("kafka-e2e")
    server = DefaultWorkers(base / "data", issuer, extra_env=env).start(timeout=120)
    yield server, issuer, receiver, prefix
    server.terminate()
    receiver.httpd.shutdown()


def _auditor(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token('aud', 'system/AuditEvent.rs')}"}


def test_evidence_arrives_within_5_seconds(kafka_server: Any) -> None:
    server, issuer, _, _ = kafka_server
    reader = {"Authorization": f"Bearer {issuer.token('kafka-reader', 'system/Patient.rs')}"}
    response = httpx.get(f"{server.base_url}/fhir/Patient/pat-00001", headers=reader)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    answered = time.monotonic()

    def found() -> bool:
        url = f"{server.base_url}/audit/requests/{request_id}"
        return httpx.get(url, headers=_auditor(issuer)).status_code == 200

    wait_for(found, timeout=5)
    assert time.monotonic() - answered < 5

    def proof() -> dict[str, Any] | None:  # sealed by the leader worker's checkpoint timer
        url = f"{server.base_url}/audit/requests/{request_id}/proof"
        answer = httpx.get(url, headers=_auditor(issuer))
        return answer.json() if answer.status_code == 200 else None

    assert wait_for(proof, timeout=20, interval=0.5)


def test_alerts_reach_store_webhook_and_topic(kafka_server: Any, kafka_bootstrap: str) -> None:
    server, issuer, receiver, prefix = kafka_server
    prober = {"Authorization": f"Bearer {issuer.token('kafka-prober', 'system/Practitioner.rs')}"}
    with httpx.Client(base_url=server.base_url, headers=prober) as http:
        for n in range(20):
            assert http.get(f"/fhir/Patient/pat-{n + 1:05d}").status_code == 403

    def stored() -> list[dict[str, Any]]:
        url = f"{server.base_url}/audit/alerts?kind=denied_burst"
        return list(httpx.get(url, headers=_auditor(issuer)).json()["alerts"])

    def probers() -> list[dict[str, Any]]:  # (an auditor polling for a proof may fire too)
        return [a for a in stored() if a["principal"] == "kafka-prober"]

    (alert,) = wait_for(probers, timeout=15)
    assert alert["request_ids"]
    wait_for(lambda: "denied_burst" in receiver.kinds(), timeout=15)
    published = consume_all(kafka_bootstrap, f"{prefix}fhir.alerts", expect=1, timeout=15)
    kinds = {orjson.loads(m.value)["kind"] for m in published}
    assert "denied_burst" in kinds


def test_chain_verifies_through_kafka(kafka_server: Any) -> None:
    server, issuer, _, _ = kafka_server
    report = httpx.get(f"{server.base_url}/audit/verify", headers=_auditor(issuer)).json()
    assert report["intact"] is True, report["problems"][:5]
    assert report["events_checked"] > 0
    assert report["checkpoints_checked"] > 0


def test_plain_serve_with_kafka_runs_one_process_saying_why(kafka_server: Any) -> None:
    """Nothing asked for on a machine of several cores: one process (the stream workers run
    in it), not a refusal; the log says why."""
    server = kafka_server[0]
    children = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                and _parent_of(p) == server.process.pid and _serves(p)]  # fmt: skip
    assert children == []  # no supervisor: the process itself serves
    if (available_cores() or 1) > 1:
        assert "one API process instead of" in server.log_text()
        assert "--role api" in server.log_text()


def _parent_of(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _serves(entry: Path) -> bool:
    try:
        return b"serve-process" in (entry / "cmdline").read_bytes()
    except OSError:
        return False
