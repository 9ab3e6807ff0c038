"""Paging in gateway mode: the e2e tier's cursor and paging tests unchanged (evidence per
page, cursors bound to the client and the query, garbage refused, POST _search, _sort, the
_count cap), against the gateway in front of HAPI; then what only an upstream shows: the
pages of a query are exactly the upstream's visible matches, each once, and no link names
the upstream; a tampered cursor is refused and recorded."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.data.synthetic.dataset import generate_dataset
from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.e2e.test_bad_input import test_hostile_requests  # noqa: F401
from tests.e2e.test_evidence_flow import (  # noqa: F401
    test_count_default_and_cap,
    test_cursor_bound_to_client,
    test_cursor_refused_when_the_query_changes,
    test_post_search_matches_get,
    test_search_paging_and_evidence,
    test_sort_orders_pages,
)
from tests.hapi_server import HapiUpstream
from tests.support import TestIssuer

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]


def _next(bundle: dict[str, object]) -> str | None:
    links = bundle.get("link") or []
    assert isinstance(links, list)
    return next((link["url"] for link in links if link["relation"] == "next"), None)


def test_pages_hold_every_visible_match_once_and_never_the_upstream(
    client: httpx.Client, issuer: TestIssuer, hapi_upstream: HapiUpstream
) -> None:
    """A patient's Observations in pages of 7: exactly the demo data's ones of that patient
    without a hidden label, each once, whatever the upstream's own paging."""
    patient = "pat-00002"
    expected = {
        r["id"] for r in generate_dataset() if r["resourceType"] == "Observation"
        and r["subject"]["reference"] == f"Patient/{patient}"
        and not {s["code"] for s in r.get("meta", {}).get("security", [])}
        & {"R", "V", "HIV", "PSY", "SUD", "ETH"}
    }  # fmt: skip
    headers = bearer(issuer, "gw-pager", "patient/Observation.rs", patient=patient)
    upstream = urlsplit(hapi_upstream.base_url).netloc
    url: str | None = "/fhir/Observation?_count=7"
    seen: list[str] = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert upstream not in response.text and "_getpages" not in response.text
        bundle = response.json()
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = _next(bundle)
        assert url is None or set(parse_qs(urlsplit(url).query)) == {"_count", "_cursor"}
    assert len(seen) == len(set(seen)) and set(seen) == expected and len(expected) > 7


def test_tampered_cursor_is_refused_and_recorded(
    client: httpx.Client, issuer: TestIssuer, auditor_headers: dict[str, str]
) -> None:
    headers = bearer(issuer, "gw-tamper", "system/Observation.rs")
    first = client.get("/fhir/Observation?_count=2", headers=headers).json()
    next_url = _next(first)
    assert next_url is not None
    cursor = parse_qs(urlsplit(next_url).query)["_cursor"][0]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for tampered in (flipped, cursor[:-1], cursor + "A", cursor[::-1]):
        response = client.get(f"/fhir/Observation?_count=2&_cursor={tampered}", headers=headers)
        assert_outcome(response, 400)
        evidence = evidence_for(client, auditor_headers, response.headers["x-request-id"])
        assert (evidence["decision"], evidence["status"]) == ("deny", 400)
    assert client.get(next_url, headers=headers).status_code == 200
