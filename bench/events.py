"""Plausible access events for the benchmarks (no test code: `bench/` runs in the venv that
`scripts/serve.sh` installs, without the test extras)."""

from dataclasses import replace
from typing import Any

from evidence.core import AccessEvent, Decision, Pseudonymizer

BENCH_PSEUDONYMIZER = Pseudonymizer(b"bench-key-0123456789abcdef", 1)


def search_event(n: int, base_us: int, **overrides: Any) -> AccessEvent:
    """A practitioner's Observation search; `n` makes its ids unique and picks one of 300
    principals and 2,000 patients."""
    event = AccessEvent(
        event_id=f"{n:032x}", request_id=f"r{n:031x}", trace_id=f"t{n:031x}",
        ts_us=base_us + n * 2000, method="GET", route="/fhir/Observation", action="search",
        resource_type="Observation", decision=Decision.ALLOW, status=200,
        reasons=("scope.granted", "careteam.member"), sub=f"dr-{n % 300}",
        client_id="ehr-app", issuer="https://issuer.example", token_alg="RS256",
        token_kid="rsa-1", token_jti_hash="ab" * 16, token_model="jwt",
        fhir_user=f"Practitioner/prac-{n % 300}", purpose_of_use="TREAT",
        scopes_granted=("user/Observation.rs",), scopes_used=("user/Observation.rs",),
        patient_ids=(f"pat-{n % 2000:05d}",), resource_ids=(f"Observation/obs-{n}",),
        query_params=("patient", "category"), count_returned=3, policy_version="policy-1",
    )  # fmt: skip
    return replace(event, **overrides) if overrides else event
