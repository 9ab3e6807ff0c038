"""`fhir-evidence worker`: the stream workers in the foreground, stopped by SIGTERM/SIGINT."""

import signal

import structlog

from api.kafka_runtime import build_workers
from api.keys import HASH_KEY_VERSION, hash_key
from api.settings import Settings
from evidence.core import Pseudonymizer
from evidence.store import open_evidence_store
from evidence.store.clickhouse import store_dsn

log = structlog.get_logger("fhir_evidence.worker")


def run_worker(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_evidence_store(
        store_dsn(settings.clickhouse_url, settings.data_dir),
        retention_days=settings.retention_days,
    )
    pseudonymizer = Pseudonymizer(hash_key(settings), HASH_KEY_VERSION)
    host, alerting = build_workers(settings, store, pseudonymizer)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: host.request_stop())
    alerting.start()
    try:
        host.run()
    finally:
        alerting.stop()
        store.close()
    return 0
