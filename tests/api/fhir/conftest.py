"""The real app in process over the demo data (30 patients, chDB evidence of its own), with
a system writer, a patient token of A and a practitioner on A's care team only."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from api.boot.app import create_app
from tests.api.inprocess import BASE, demo_runtime
from tests.support import TestIssuer

A, B = "pat-00001", "pat-00002"
DOC = "Practitioner/prop-doc"  # on A's care team only
FHIR = f"{BASE}/fhir"
Resource = dict[str, Any]


class App:
    def __init__(self, client: TestClient, issuer: TestIssuer) -> None:
        self.client, self.issuer = client, issuer
        self.tokens = {
            "patient": self.bearer("prop-pat", "patient/*.rs", patient=A),
            "user": self.bearer("prop-doc", "user/*.rs", fhirUser=DOC),
            "system": self.bearer("prop-sys", "system/*.cruds"),
        }

    def bearer(self, sub: str, scope: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(sub, scope, **claims)}"}

    def create(self, resource: Resource) -> httpx.Response:
        url = f"/fhir/{resource['resourceType']}"
        response: httpx.Response = self.client.post(
            url, json=resource, headers=self.tokens["system"]
        )
        return response


@pytest.fixture(scope="package")
def app(tmp_path_factory: pytest.TempPathFactory, chdb_client: object) -> Iterator[App]:
    tmp: Path = tmp_path_factory.mktemp("compartment-property")
    issuer = TestIssuer(audience=FHIR)
    with demo_runtime(tmp, chdb_client, issuer) as runtime:
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        with client:
            app = App(client, issuer)
            assert app.create({"resourceType": "Practitioner", "id": "x"}).status_code == 201
            team = {
                "resourceType": "CareTeam",
                "status": "active",
                "subject": {"reference": f"Patient/{A}"},
                "participant": [{"member": {"reference": DOC}}],
            }
            assert app.create(team).status_code == 201
            yield app
