"""Typed dependencies (api.http.deps): every one is async (a sync dependency would run in the
threadpool), and a route's checks keep their order: what the request is and asks for is
recorded, and an unknown type refused, before the token is looked at."""

import inspect
import re
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant

from api.boot.services import Services
from tests.api.http.conftest import Walk, app_routes


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def test_every_route_dependency_is_async(walk: Walk) -> None:
    routes = [r for r in app_routes(walk.client.app.routes) if getattr(r, "dependant", None)]
    calls = {call for route in routes for call in _calls(route.dependant)}
    assert len(routes) > 30 and len(calls) > 20
    assert [c.__qualname__ for c in calls if not inspect.iscoroutinefunction(c)] == []
    assert [r.path for r in routes if not inspect.iscoroutinefunction(r.endpoint)] == []


def test_the_app_keeps_its_service_groups(walk: Walk) -> None:
    services = walk.client.app.state.services
    assert isinstance(services, Services) and services is walk.runtime.services
    assert services.fhir.guard is services.guard is services.auditing.guard


def test_an_unknown_type_answers_404_before_the_token(walk: Walk) -> None:
    response = walk.go("GET", "/fhir/Nope/1", headers={"Authorization": "Bearer a.b.c"})
    event = walk.seen[-1][1]
    assert response.status_code == 404 and event.reasons == ("not_found",)
    assert (event.action, event.policy_version) == ("read", "")
    assert re.fullmatch(r"unknown:[0-9a-f]{8}", event.resource_type)  # never the caller's text


def test_a_refused_search_still_names_what_it_asked(walk: Walk) -> None:
    response = walk.go("GET", "/fhir/Observation?code=x&_count=1")
    event = walk.seen[-1][1]
    assert response.status_code == 401 and event.reasons == ("token.missing",)
    assert event.query_params == ("_count", "code") and event.policy_version


def test_a_search_form_is_read_only_after_the_token_was_accepted(walk: Walk) -> None:
    """No token: the body is never read (its names are not even known); a valid token with
    another token in the body: refused (RFC 6750 body tokens are never accepted)."""
    response = walk.go("POST", "/fhir/Patient/_search", data={"access_token": "t", "_id": "x"})
    event = walk.seen[-1][1]
    assert response.status_code == 401 and event.reasons == ("token.missing",)
    assert event.query_params == ()
    headers = walk.token("s", "system/Patient.rs")
    response = walk.go("POST", "/fhir/Patient/_search", data={"access_token": "t", "_id": "x"},
                       headers=headers)  # fmt: skip
    event = walk.seen[-1][1]
    assert response.status_code == 401 and event.reasons == ("token.malformed",)
    assert event.sub == "s"


def test_a_throttled_caller_is_named(walk: Walk) -> None:
    guard = walk.runtime.services.guard
    limits, guard._rate = guard._rate, (0.001, 0.5)
    try:
        response = walk.go("GET", "/fhir/Patient/pat-00001", headers=walk.token("t", "system/*.rs"))
    finally:
        guard._rate = limits
    event = walk.seen[-1][1]
    assert response.status_code == 429 and event.reasons == ("rate.limited",)
    assert event.sub == "t" and event.scopes_used == ()
