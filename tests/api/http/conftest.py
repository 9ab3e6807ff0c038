"""The real app over the demo data (30 patients, chDB evidence store of its own), with
every event it records kept in `events` for the tests to read."""

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime, build_runtime
from api.settings import Settings
from evidence.core import AccessEvent
from evidence.store import EvidenceStore
from tests.api.inprocess import BASE, demo_runtime
from tests.support import TestIssuer


@dataclass
class Walk:
    client: TestClient
    runtime: Runtime
    issuer: TestIssuer
    events: list[AccessEvent] = field(default_factory=list)
    seen: list[tuple[httpx.Response, AccessEvent]] = field(default_factory=list)

    def token(self, sub: str, scope: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(sub, scope, **claims)}"}

    def go(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, url, **kwargs)
        request_id = response.headers["x-request-id"]
        mine = [e for e in self.events if e.request_id == request_id and e.method != "INTERNAL"]
        assert len(mine) == 1, (method, url, len(mine))
        self.seen.append((response, mine[0]))
        return response


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, chdb_client: object) -> Iterator[Walk]:
    tmp: Path = tmp_path_factory.mktemp("route-walk")
    issuer = TestIssuer(audience=f"{BASE}/fhir")
    with demo_runtime(tmp, chdb_client, issuer) as runtime:
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        walk = Walk(client, runtime, issuer)
        append = runtime.outbox.append

        async def recording(event: AccessEvent) -> int:
            walk.events.append(event)
            return await append(event)

        runtime.outbox.append = recording  # type: ignore[method-assign]
        with walk.client:
            yield walk


@contextlib.contextmanager
def recorded_app(
    tmp: Path, chdb_client: object, **settings: Any
) -> Iterator[tuple[TestClient, Runtime, TestIssuer, list[AccessEvent]]]:
    """The real app with no data, settings overridden by `settings`, a token issuer of its
    own and an evidence database of its own; every event it records kept in the list."""
    issuer = TestIssuer(audience=f"{BASE}/fhir")
    jwks = issuer.write_jwks(tmp / "jwks.json")
    config = Settings(
        data_dir=tmp / "data", base_url=BASE, rate_limit_per_s=0,
        trusted_issuers=json.dumps([{"issuer": issuer.issuer, "jwks_file": str(jwks)}]),
        **settings,
    )  # fmt: skip
    store = EvidenceStore(chdb_client, f"t_{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
    store.apply_schema()
    runtime = build_runtime(config, demo_data=False, store=store, inline=True)
    events: list[AccessEvent] = []
    append = runtime.outbox.append

    async def recording(event: AccessEvent) -> int:
        events.append(event)
        return await append(event)

    runtime.outbox.append = recording  # type: ignore[method-assign]
    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            yield client, runtime, issuer, events
    finally:
        store.raw_command(f"DROP DATABASE IF EXISTS {store.database}")


def app_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, those of included routers too (FastAPI keeps each included
    router as one entry whose candidates carry the full path, methods and dependencies)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from app_routes(route.effective_candidates())
        else:
            yield route
