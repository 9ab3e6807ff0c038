"""The HAPI FHIR JPA upstream of gateway mode's tests: the session fixture `hapi_upstream`
(started once per session by scripts/hapi.sh, seeded once with the demo data through HAPI's
REST API; `base_url` is `http://127.0.0.1:PORT/fhir`, `seeded_ids` the "Type/id" of every
resource). The launcher and the seeding live in bench/hapi_upstream.py (the benchmark uses
them too, and bench never imports tests)."""

import os
from collections.abc import Iterator
from typing import NoReturn

import httpx
import pytest

from bench.hapi_upstream import (
    FHIR_JSON,
    HapiServerError,
    HapiUpstream,
    already_seeded,
    demo_resources,
    seed,
    start_hapi,
)
from tests.support import unavailable

__all__ = [
    "FHIR_JSON",
    "HapiServerError",
    "HapiUpstream",
    "demo_resources",
    "hapi_upstream",
    "seed",
    "start_hapi",
]

URL_VARIABLE = "FHIR_EVIDENCE_TEST_HAPI_URL"


# --- pytest --------------------------------------------------------------------------------


def _hapi_unavailable(reason: str) -> NoReturn:
    """Under CI a HAPI test must run: fail it. Elsewhere skip it, saying why."""
    print(f"\nHAPI upstream unavailable: {reason}")
    unavailable(reason, "HAPI upstream tests")


@pytest.fixture(scope="session")
def hapi_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HapiUpstream]:
    """A HAPI FHIR JPA server seeded with the demo data set, started once per session (on
    first use) and stopped at its end. $FHIR_EVIDENCE_TEST_HAPI_URL uses a running server
    instead (seeded by this fixture unless the demo data set's last resource is there)."""
    external = os.environ.get(URL_VARIABLE)
    if external:
        upstream = HapiUpstream(None, external_url=external)
    else:
        upstream = HapiUpstream(tmp_path_factory.mktemp("hapi"))
        try:
            upstream.start()
        except HapiServerError as exc:
            _hapi_unavailable(exc.summary)
    try:
        if external and already_seeded(upstream.base_url):
            upstream.seeded_ids = [f"{r['resourceType']}/{r['id']}" for r in demo_resources()]
        else:
            upstream.seed_demo()
    except (HapiServerError, httpx.HTTPError) as exc:
        if upstream.state_dir is not None:
            upstream.stop()
        summary = exc.summary if isinstance(exc, HapiServerError) else repr(exc)
        _hapi_unavailable(f"seeding the HAPI upstream failed: {summary}")
    rss = upstream.rss_bytes()
    print(
        f"\nHAPI upstream {upstream.base_url}: started in {upstream.started_in or 0:.1f}s, "
        f"{len(upstream.seeded_ids)} resources seeded in {upstream.seeded_in or 0:.1f}s"
        + (f", RSS {rss / 2**20:.0f} MiB" if rss else "")
    )
    yield upstream
    if upstream.state_dir is not None:
        upstream.stop()
