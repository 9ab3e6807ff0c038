"""Valid FHIR never gets a 5xx: every date search parameter with every prefix and boundary
dates (years 0001 and 9999, every precision, offsets ±14:00) answers 200 or 400 with an
OperationOutcome; resources carrying such dates are stored (201) and found by them."""

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data.indexing import SEARCH_PARAMS
from tests.api.data.test_boundary_dates import PREFIXES, fhir_dates
from tests.api.fhir.conftest import A, App

DATE_PARAMS = sorted(
    (rtype, name)
    for rtype, params in SEARCH_PARAMS.items()
    for name, param in params.items()
    if param.kind == "date"
)
ONE_APP = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
UNSUPPORTED_PREFIXES = ("ne", "sa", "eb", "ap")


@settings(max_examples=150, deadline=None, suppress_health_check=ONE_APP)
@given(
    st.sampled_from(DATE_PARAMS),
    st.sampled_from((*PREFIXES, *UNSUPPORTED_PREFIXES)),
    fhir_dates(),
)
def test_date_searches_never_fail(app: App, param: tuple[str, str], prefix: str, date: str) -> None:
    rtype, name = param
    url = f"/fhir/{rtype}?{name}={quote(prefix + date, safe='')}&_count=1"
    response = app.client.get(url, headers=app.tokens["system"])
    assert response.status_code in (200, 400), (url, response.status_code, response.text)
    if response.status_code == 400:
        assert prefix in UNSUPPORTED_PREFIXES, (url, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"


def test_the_reported_examples(app: App) -> None:
    for url in (
        "/fhir/Patient?_lastUpdated=gt0001-01-01T00:00:00%2B14:00",
        "/fhir/Patient?birthdate=le9999-12-31T23:59:59-14:00",
        "/fhir/Observation?date=ge0001-01-01T00:00:00%2B14:00",
        "/fhir/Encounter?date=gt9999-12-31T23:59:59-14:00",
    ):
        assert app.client.get(url, headers=app.tokens["system"]).status_code == 200, url


@settings(max_examples=40, deadline=None, suppress_health_check=ONE_APP)
@given(fhir_dates())
def test_boundary_dates_are_stored_and_found(app: App, date: str) -> None:
    day = date.split("T")[0]
    subject = {"reference": f"Patient/{A}"}
    bodies: list[dict[str, Any]] = [
        {"resourceType": "Patient", "birthDate": day},
        {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
         "subject": subject, "effectiveDateTime": date},
        {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
         "subject": subject, "period": {"start": date}},
        {"resourceType": "Condition", "code": {"text": "x"}, "subject": subject,
         "onsetDateTime": date},
    ]  # fmt: skip
    for body in bodies:
        created = app.create(body)
        assert created.status_code == 201, (body, created.status_code, created.text)
        rtype, rid = body["resourceType"], created.json()["id"]
        name = {"Patient": "birthdate", "Condition": "onset-date"}.get(rtype, "date")
        searched = f"eq{day}" if rtype == "Patient" else f"ge{date}"  # a period has no end
        found = app.client.get(
            f"/fhir/{rtype}?_id={rid}&{name}={quote(searched, safe='')}",
            headers=app.tokens["system"],
        )
        assert found.status_code == 200 and found.json()["total"] == 1, (body, found.text)
        put = {k: v for k, v in created.json().items() if k != "meta"}  # {} is not FHIR
        updated = app.client.put(f"/fhir/{rtype}/{rid}", json=put, headers=app.tokens["system"])
        assert updated.status_code == 200, updated.text
