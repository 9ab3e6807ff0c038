"""The real runtime in process for API tests: 30 demo patients, a trusted test issuer, the
inline processor and a chDB evidence database of its own (dropped afterwards)."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.boot.runtime import Runtime, build_runtime, load_demo_data
from api.boot.stores import open_fhir_data
from api.settings import Settings
from evidence.store import EvidenceStore
from tests.support import TestIssuer

BASE = "http://testserver"


@contextmanager
def demo_runtime(tmp: Path, chdb_client: object, issuer: TestIssuer) -> Iterator[Runtime]:
    jwks = issuer.write_jwks(tmp / "jwks.json")
    settings = Settings(
        data_dir=tmp / "data", base_url=BASE, rate_limit_per_s=0,
        expose_metrics=True, expose_openapi=True,  # opt-in: walked and read by the tests
        unauthenticated_rate_limit_per_s=0,  # the tests send many refused requests at once
        trusted_issuers=json.dumps([{"issuer": issuer.issuer, "jwks_file": str(jwks)}]),
    )  # fmt: skip
    data = open_fhir_data(settings)
    load_demo_data(data, 30, 42)
    data.close()
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
    store.apply_schema()
    try:
        yield build_runtime(settings, demo_data=False, store=store, inline=True)
    finally:
        store.raw_command(f"DROP DATABASE IF EXISTS {store.database}")
