"""Two in-process apps for the console tests: one in demo mode (the development issuer on,
no trusted issuer) and one with a trusted issuer (the development issuer off). Real runtime,
inline processor, chDB evidence store in a database of its own; no FHIR data needed."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime, build_runtime
from api.settings import Settings
from evidence.store import EvidenceStore
from tests.support import TestIssuer

BASE = "http://testserver"


@dataclass
class ConsoleApp:
    client: TestClient
    runtime: Runtime
    issuer: TestIssuer | None

    def settle(self) -> None:
        assert self.runtime.processor is not None
        assert self.runtime.processor.drain(10.0)


def _app(tmp: Path, chdb_client: object, issuer: TestIssuer | None) -> Iterator[ConsoleApp]:
    trusted = ""
    if issuer is not None:
        jwks = issuer.write_jwks(tmp / "jwks.json")
        trusted = json.dumps([{"issuer": issuer.issuer, "jwks_file": str(jwks)}])
    settings = Settings(
        data_dir=tmp / "data",
        base_url=BASE,
        trusted_issuers=trusted,
        rate_limit_per_s=0,
        unauthenticated_rate_limit_per_s=0,
    )
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = EvidenceStore(chdb_client, database)  # type: ignore[arg-type]
    store.apply_schema()
    runtime = build_runtime(settings, demo_data=False, store=store, inline=True)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield ConsoleApp(client, runtime, issuer)
    store.raw_command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture(scope="package")
def demo_app(tmp_path_factory: pytest.TempPathFactory, chdb_client: object) -> Iterator[ConsoleApp]:
    yield from _app(tmp_path_factory.mktemp("console-demo"), chdb_client, None)


@pytest.fixture(scope="package")
def trusted_app(
    tmp_path_factory: pytest.TempPathFactory, chdb_client: object
) -> Iterator[ConsoleApp]:
    issuer = TestIssuer(audience=f"{BASE}/fhir")
    yield from _app(tmp_path_factory.mktemp("console-trusted"), chdb_client, issuer)
