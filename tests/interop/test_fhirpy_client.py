"""fhirpy 2.3 (Python, SyncFHIRClient) drives the server through the same scenario as HAPI's
client: paging by `next` links, read and vread, _include, _sort, _elements, create, update
with and without a version, If-None-Match, delete, and errors mapped to fhirpy's exception
types with the OperationOutcome they carry."""

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import (
    AuthorizationError,
    ForbiddenError,
    MultipleResourcesFound,
    OperationOutcome,
    ResourceNotFound,
)

from tests.interop.conftest import narrow_token, system_token
from tests.support import TestIssuer

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}

ClientFactory = Callable[..., SyncFHIRClient]


class Exchanges:
    """What fhirpy sent and got, through requests' response hook."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    @property
    def last(self) -> requests.Response:
        return self.responses[-1]


@pytest.fixture
def exchanges() -> Exchanges:
    return Exchanges()


@pytest.fixture
def make_client(
    fhir_base_url: str, interop_issuer: TestIssuer, exchanges: Exchanges
) -> ClientFactory:
    """A fhirpy client with the system token (or `token`) and any extra headers."""

    def make(token: str | None = None, **extra_headers: str) -> SyncFHIRClient:
        return SyncFHIRClient(
            fhir_base_url,
            authorization=f"Bearer {token or system_token(interop_issuer)}",
            extra_headers=extra_headers or None,
            requests_config={"timeout": 30, "hooks": {"response": [exchanges.hook]}},
        )

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> SyncFHIRClient:
    return make_client()


@pytest.fixture
def created_patient(client: SyncFHIRClient) -> Iterator[Any]:
    patient = client.resource(
        "Patient", name=[{"family": "Interop", "given": ["Fhirpy"]}], gender="male"
    )
    patient.save()
    yield patient
    with contextlib.suppress(ResourceNotFound):  # a test deleted it
        client.delete("Patient", patient.id)


def outcome_in(error: Exception) -> dict[str, Any]:
    """The OperationOutcome an error carries: fhirpy keeps it parsed (OperationOutcome) or as
    the response text (the status-specific exceptions)."""
    body = error.resource if isinstance(error, OperationOutcome) else json.loads(str(error))
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and body["issue"][0]["severity"] == "error", body
    return dict(body)


def test_fetch_all_pages_by_next_links_until_done(
    client: SyncFHIRClient, exchanges: Exchanges
) -> None:
    patients = client.resources("Patient").limit(50).fetch_all()
    pages = len(exchanges.responses)
    total = client.resources("Patient").search(_summary="count").fetch_raw()["total"]
    assert pages >= 2
    assert len(patients) == len({p.id for p in patients}) == total


def test_read_and_vread(client: SyncFHIRClient) -> None:
    patient = client.reference("Patient", "pat-00001").to_resource()
    version = patient["meta"]["versionId"]
    assert patient.id == "pat-00001"
    same = client.execute(f"Patient/pat-00001/_history/{version}", method="get")
    assert same["id"] == "pat-00001" and same["meta"]["versionId"] == version


def test_include_sends_the_patients_of_the_observations(client: SyncFHIRClient) -> None:
    bundle = client.resources("Observation").include("Observation", "patient").limit(10)
    entries = bundle.fetch_raw()["entry"]
    matches = [e.resource for e in entries if e.search.mode == "match"]
    included = {f"Patient/{e.resource.id}" for e in entries if e.search.mode == "include"}
    assert matches and included
    assert included <= {o["subject"]["reference"] for o in matches}


def test_sort(client: SyncFHIRClient) -> None:
    patients = client.resources("Patient").sort("-birthdate").limit(30).fetch()
    births = [p["birthDate"] for p in patients if "birthDate" in p]
    assert len(births) >= 2 and births == sorted(births, reverse=True)


def test_elements(client: SyncFHIRClient, exchanges: Exchanges) -> None:
    """fhirpy adds id and resourceType to the elements asked for."""
    patients = client.resources("Patient").elements("gender").limit(5).fetch()
    assert "_elements=" in str(exchanges.last.request.url)
    assert patients
    for patient in patients:
        assert "gender" in patient and "name" not in patient and "birthDate" not in patient
        assert any(SUBSETTED.items() <= tag.items() for tag in patient["meta"]["tag"])


def test_create_update_and_delete(client: SyncFHIRClient, exchanges: Exchanges) -> None:
    patient = client.resource("Patient", name=[{"family": "Interop"}], gender="female")
    patient.save()
    assert exchanges.last.status_code == 201
    assert exchanges.last.request.headers["Content-Type"] == "application/json"
    assert patient.id and patient["meta"]["versionId"] == "1"
    patient["active"] = True
    patient.save()
    assert exchanges.last.request.method == "PUT" and patient["meta"]["versionId"] == "2"
    assert client.reference("Patient", patient.id).to_resource()["active"] is True
    client.delete("Patient", patient.id)
    with pytest.raises(ResourceNotFound) as gone:
        client.reference("Patient", patient.id).to_resource()
    assert outcome_in(gone.value)["issue"][0]["code"] == "not-found"


def test_update_naming_a_stale_version_is_refused_with_412(
    client: SyncFHIRClient, make_client: ClientFactory, created_patient: Any
) -> None:
    """fhirpy has no If-Match of its own: a client configured with the header sends it. It
    maps 412 (its conditional operations' "more than one match") to MultipleResourcesFound."""
    created_patient["active"] = True
    created_patient.save()  # version 2
    stale = make_client(**{"If-Match": 'W/"1"'})
    with pytest.raises(MultipleResourcesFound) as refused:
        stale.resource("Patient", id=created_patient.id, gender="other").save()
    assert outcome_in(refused.value)["issue"][0]["code"] == "conflict"
    current = make_client(**{"If-Match": 'W/"2"'})
    updated = current.resource("Patient", id=created_patient.id, gender="other").save()
    assert updated["meta"]["versionId"] == "3"


def test_read_if_none_match_answers_nothing_for_the_version_held(
    make_client: ClientFactory, exchanges: Exchanges, created_patient: Any
) -> None:
    held = make_client(**{"If-None-Match": 'W/"1"'})
    assert held.get("Patient", created_patient.id) is None  # fhirpy: 304 -> None
    assert exchanges.last.status_code == 304


def test_refresh_brings_the_resource_up_to_date(
    client: SyncFHIRClient, exchanges: Exchanges, created_patient: Any
) -> None:
    """fhirpy's refresh() sends If-None-Match with the bare versionId (not an entity tag)."""
    copy = client.reference("Patient", created_patient.id).to_resource()
    created_patient["active"] = False
    created_patient.save()
    copy.refresh()
    assert copy["meta"]["versionId"] == "2" and copy["active"] is False
    assert exchanges.last.request.headers["If-None-Match"] == "1"


def test_errors_map_to_fhirpy_exceptions_with_their_outcome(
    client: SyncFHIRClient, make_client: ClientFactory, interop_issuer: TestIssuer
) -> None:
    with pytest.raises(ResourceNotFound) as missing:
        client.reference("Patient", "interop-no-such-patient").to_resource()
    assert outcome_in(missing.value)["issue"][0]["code"] == "not-found"
    with pytest.raises(AuthorizationError) as unauthenticated:
        make_client("not-a-token").resources("Patient").fetch()
    assert outcome_in(unauthenticated.value)["issue"][0]["code"] == "login"
    with pytest.raises(ForbiddenError) as forbidden:
        make_client(narrow_token(interop_issuer)).resources("Observation").fetch()
    assert outcome_in(forbidden.value)["issue"][0]["code"] == "forbidden"
    with pytest.raises(OperationOutcome) as invalid:  # no status, no code
        client.resource("Observation", subject={"reference": "Patient/pat-00001"}).save()
    assert outcome_in(invalid.value)["issue"]


def test_what_fhirpy_sends_is_served(client: SyncFHIRClient, exchanges: Exchanges) -> None:
    client.resources("Patient").limit(1).fetch()
    sent = exchanges.last.request.headers
    assert sent["Accept"] == "application/fhir+json"
    assert exchanges.last.headers["Content-Type"].startswith("application/fhir+json")
