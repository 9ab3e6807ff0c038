"""The real app over the demo data (30 patients, chDB evidence store of its own), with
every event it records kept in `events` for the tests to read."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from api.boot.runtime import Runtime
from evidence.core import AccessEvent
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


def app_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, those of included routers too (FastAPI keeps each included
    router as one entry whose candidates carry the full path, methods and dependencies)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from app_routes(route.effective_candidates())
        else:
            yield route
