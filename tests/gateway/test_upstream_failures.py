"""The served process (`fhir-evidence serve`) in front of the session's HAPI through a proxy
of our own that the test cuts mid-session (tests/gateway/cut_proxy.py): an upstream that
stalls answers 504 within the configured timeout, one that drops connections or whose port
is closed 503, each an OperationOutcome naming nothing of the upstream, each recorded as
evidence with its reason codes; /readyz names `fhir_store` while the upstream is cut (its
probe bounded, so a stalled upstream does not hold it) and recovers with the upstream.
Before that: guarded reads in front of a slower upstream (50 ms added to each request) run
side by side, not one after the other."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.helpers import assert_outcome, bearer, evidence_for
from tests.gateway.cut_proxy import DELAY_S, CutProxy, Mode
from tests.hapi_server import HapiUpstream
from tests.support import ServerProcess, TestIssuer, wait_for

pytestmark = [pytest.mark.hapi, pytest.mark.e2e]
TIMEOUT_S = 1.0  # FHIR_EVIDENCE_UPSTREAM_TIMEOUT_S of this server
PATHS = ("/fhir/Patient/pat-00001", "/fhir/Observation?category=laboratory&_count=5")


@pytest.fixture(scope="module")
def cut(
    hapi_upstream: HapiUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CutProxy, ServerProcess, TestIssuer]]:
    upstream = urlsplit(hapi_upstream.base_url)
    proxy = CutProxy(upstream.hostname or "127.0.0.1", upstream.port or 80)
    proxy.set(Mode.PASSING)
    issuer = TestIssuer()  # its own: starting a server sets the issuer's audience
    env = {
        "FHIR_EVIDENCE_UPSTREAM_FHIR_URL": f"http://127.0.0.1:{proxy.port}{upstream.path}",
        "FHIR_EVIDENCE_UPSTREAM_TIMEOUT_S": str(TIMEOUT_S),
        "FHIR_EVIDENCE_UPSTREAM_CONNECT_TIMEOUT_S": str(TIMEOUT_S),
    }
    base: Path = tmp_path_factory.mktemp("gateway-cut")
    server = ServerProcess(base / "data", issuer, extra_env=env).start()
    yield proxy, server, issuer
    if server.process and server.process.poll() is None:
        server.terminate()
    proxy.stop()


def _ready(http: httpx.Client, status: int) -> dict[str, object]:
    """/readyz once it answers `status` (the probe asks the upstream every 5 s, 2 s each)."""

    def answered() -> dict[str, object] | None:
        response = http.get("/readyz")
        return dict(response.json()) if response.status_code == status else None

    return dict(wait_for(answered, timeout=20, interval=0.25))


def test_guarded_reads_do_not_wait_for_each_other(
    cut: tuple[CutProxy, ServerProcess, TestIssuer],
) -> None:
    """20 reads one after the other, then the same 20 at once: at once they take a small
    part of the time (each waits on the upstream on a worker thread of its own, over a
    pooled connection of its own), whatever the machine's speed."""
    proxy, server, issuer = cut
    system = bearer(issuer, "gw-many", "system/Patient.rs")
    paths = [f"/fhir/Patient/pat-{n:05d}" for n in range(1, 21)]
    proxy.set(Mode.DELAYING)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30,
                          limits=httpx.Limits(max_connections=20)) as http:  # fmt: skip
            http.get(paths[0], headers=system)  # warm: the upstream pool, the token cache

            def read(path: str) -> int:
                return http.get(path, headers=system).status_code

            began = time.monotonic()
            answers = [read(path) for path in paths]
            one_by_one = time.monotonic() - began
            with ThreadPoolExecutor(20) as pool:
                began = time.monotonic()
                assert list(pool.map(read, paths)) == answers  # the same (a few labelled: 404)
                at_once = time.monotonic() - began
            assert answers.count(200) > 15
    finally:
        proxy.set(Mode.PASSING)
    print(
        f"\n20 guarded reads, {DELAY_S * 1000:.0f} ms upstream delay: one by one "
        f"{one_by_one:.2f} s, at once {at_once:.2f} s"
    )
    assert one_by_one >= 20 * DELAY_S  # the delay is there
    assert at_once < one_by_one / 3, (at_once, one_by_one)


def test_an_upstream_cut_mid_session_fails_closed_and_readiness_follows(
    cut: tuple[CutProxy, ServerProcess, TestIssuer],
) -> None:
    proxy, server, issuer = cut
    system = bearer(issuer, "gw-ops", "system/*.rs")
    auditor = bearer(issuer, "gw-auditor", "system/AuditEvent.rs")
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert all(http.get(path, headers=system).status_code == 200 for path in PATHS)
        assert _ready(http, 200) == {"status": "ok"}
        for mode, status, reason in (
            (Mode.STALLING, 504, "upstream.timeout"),
            (Mode.DROPPING, 503, "upstream.unavailable"),
            (Mode.CLOSED, 503, "upstream.unavailable"),
        ):
            proxy.set(mode)
            for path in PATHS:
                began = time.monotonic()
                response = http.get(path, headers=system)
                took = time.monotonic() - began
                assert_outcome(response, status)
                assert str(proxy.port) not in response.text and "HAPI" not in response.text
                assert took < TIMEOUT_S + 4, (mode, took)  # bounded, never a hung request
                evidence = evidence_for(http, auditor, response.headers["x-request-id"])
                assert (evidence["decision"], evidence["status"]) == ("deny", status)
                assert {reason, "dependency.failed"} <= set(evidence["reasons"]), mode
            if mode is Mode.STALLING:
                assert _ready(http, 503) == {"status": "unavailable", "failing": ["fhir_store"]}
        proxy.set(Mode.PASSING)
        assert _ready(http, 200) == {"status": "ok"}
        assert all(http.get(path, headers=system).status_code == 200 for path in PATHS)
    assert f":{proxy.port}" not in server.log_text()  # the upstream's address never logged
