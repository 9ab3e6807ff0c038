"""Policy cost: one read decision, filtering a 100-entry page in SQL against the same page
unfiltered, and the timing of "exists but hidden" against "does not exist" over HTTP.

`.venv/bin/python -m bench.policy_decision` (run alone).
"""

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.access.devissuer import mint_token
from api.data.sqlite.repository import ResourceRepository
from api.data.synthetic.dataset import generate_dataset
from api.fhir.search import parse_search
from api.security.access import SENSITIVE_LABELS, PatientReach, Reach, decide_resource, plan_access
from api.security.claims import principal_from_claims
from api.settings import Settings
from bench.harness import start_server, stop_server

PRACTITIONER = "Practitioner/prac-0001"


def per_call_us(work: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(repeat):
        work()
    return (time.perf_counter_ns() - start) / repeat / 1000


def decision_cost() -> None:
    claims = {"sub": "b", "iss": "i", "exp": 2**31, "scope": "user/*.rs", "fhirUser": PRACTITIONER,
              "purpose_of_use": "TREAT"}  # fmt: skip
    principal = principal_from_claims(claims, "RS256", "k")
    plan = plan_access(principal, "Observation", "read")
    labels = frozenset({"HIV"})
    plan_us = per_call_us(lambda: plan_access(principal, "Observation", "read"), 50_000)
    decide_us = per_call_us(lambda: decide_resource(plan, "pat-1", labels, True), 200_000)
    print(f"plan_access (uncached)             {plan_us:7.2f} us")
    print(f"decide_resource                    {decide_us:7.2f} us")


def page_cost(work: Path) -> None:
    repo = ResourceRepository(work / "fhir.sqlite")
    repo.save_many(generate_dataset(), "2026-01-01T00:00:00Z")
    criteria = parse_search("Observation", [("category", "laboratory")]).criteria
    open_reach, care_team = (
        PatientReach(Reach.ALL),
        PatientReach(Reach.CARE_TEAM, practitioner=PRACTITIONER),
    )
    unfiltered = per_call_us(
        lambda: repo.search("Observation", criteria, open_reach, frozenset(), 100, 0), 300
    )
    filtered = per_call_us(
        lambda: repo.search("Observation", criteria, care_team, SENSITIVE_LABELS, 100, 0), 300
    )
    system = per_call_us(
        lambda: repo.search("Observation", criteria, open_reach, SENSITIVE_LABELS, 100, 0), 300
    )
    print(f"100-entry page, no policy          {unfiltered:7.0f} us")
    print(f"100-entry page, labels only        {system:7.0f} us   ratio {unfiltered / system:.2f}")
    print(
        f"100-entry page, care team + labels {filtered:7.0f} us   ratio {unfiltered / filtered:.2f}"
    )


def existence_timing(work: Path) -> None:
    data = work / "server"
    port = 8231
    server = start_server(["-m", "api.boot.cli", "serve"], data, port)
    try:
        settings = Settings(data_dir=data, base_url=f"http://127.0.0.1:{port}")
        token = mint_token(settings, "timing", "user/*.rs", ttl_s=3600, fhir_user=PRACTITIONER)
        headers = {"Authorization": f"Bearer {token}"}
        hidden, missing = [], []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for n in range(400):
                for path, sink in (("/fhir/Patient/pat-00150", hidden),
                                   (f"/fhir/Patient/pat-9{n:04d}", missing)):  # fmt: skip
                    began = time.perf_counter()
                    assert http.get(path).status_code == 404
                    sink.append(time.perf_counter() - began)
    finally:
        stop_server(server)
    h, m = statistics.median(hidden) * 1e6, statistics.median(missing) * 1e6
    print(
        f"404 exists-but-hidden median {h:.0f} us, does-not-exist median {m:.0f} us "
        f"(difference {abs(h - m) / m * 100:.1f} %)"
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-policy-"))
    decision_cost()
    page_cost(work)
    existence_timing(work)


if __name__ == "__main__":
    main()
