"""Access-token validation cost per request, in µs, for RS256, ES256 and EdDSA.

cold: the full `verify_access_token` (strict parsing, signature, claims, principal) against
      TrustedKeys built from a JWKS with `keys_from_jwks`, as on a token's first request;
warm: the verified-token cache hit in `Guard._principal` (hash the token, look it up, check
      its expiry), as on every later request with the same token.
Each call is timed on its own with `time.perf_counter_ns`; mean, p50 and p99 are reported.
Goals: warm < 20 µs for every algorithm, cold RS256 < 100 µs.
Run from the repository root: `.venv/bin/python -m bench.token_validation`.
"""

import argparse
import gc
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from api.access.guard import Guard
from api.access.issuers import IssuerKeys, keys_from_jwks
from api.security.tokens import TokenPolicy, TrustedKeys, verify_access_token

ISSUER = "https://issuer.bench.example"
AUDIENCE = "http://127.0.0.1:8080/fhir"
ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
WARM_GOAL_US = 20.0
COLD_RS256_GOAL_US = 100.0
MIN_COLD, MIN_WARM = 2_000, 20_000


@dataclass(frozen=True)
class Signer:
    alg: str
    kid: str
    private_key: Any
    jwk_type: Any  # the PyJWT algorithm class that renders the public JWK


@dataclass
class Timing:
    samples_ns: list[int]

    @property
    def mean_us(self) -> float:
        return statistics.fmean(self.samples_ns) / 1000

    def percentile_us(self, fraction: float) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000


def _signers() -> list[Signer]:
    return [
        Signer(
            "RS256",
            "rsa-1",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            jwt.algorithms.RSAAlgorithm,
        ),
        Signer(
            "ES256", "ec-1", ec.generate_private_key(ec.SECP256R1()), jwt.algorithms.ECAlgorithm
        ),
        Signer("EdDSA", "ed-1", ed25519.Ed25519PrivateKey.generate(), jwt.algorithms.OKPAlgorithm),
    ]


def _jwks(signers: list[Signer]) -> dict[str, Any]:
    keys = []
    for signer in signers:
        jwk = json.loads(signer.jwk_type.to_jwk(signer.private_key.public_key()))
        jwk.update(kid=signer.kid, use="sig", alg=signer.alg)
        keys.append(jwk)
    return {"keys": keys}


def _token(signer: Signer, now: int) -> str:
    """A realistic access token: RFC 9068 claims, a few SMART scopes, a purpose of use."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bench-practitioner",
        "iat": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
        "client_id": "bench-client",
        "scope": "user/Patient.rs user/Observation.rs user/Encounter.rs launch openid",
        "fhirUser": "Practitioner/prac-0001",
        "purpose_of_use": "TREAT",
        "sensitivity_clearance": ["R"],
    }
    headers = {"kid": signer.kid, "typ": "at+jwt"}
    return jwt.encode(claims, signer.private_key, algorithm=signer.alg, headers=headers)


def _time(call: Callable[[], object], iterations: int, warmup: int) -> Timing:
    for _ in range(warmup):
        call()
    clock = time.perf_counter_ns
    samples = [0] * iterations
    for i in range(iterations):
        start = clock()
        call()
        samples[i] = clock() - start
    return Timing(samples)


def _timer_overhead_ns(iterations: int = 100_000) -> float:
    clock = time.perf_counter_ns
    total = 0
    for _ in range(iterations):
        start = clock()
        total += clock() - start
    return total / iterations


def measure(cold_n: int, warm_n: int) -> dict[str, tuple[Timing, Timing]]:
    signers = _signers()
    keys = keys_from_jwks(_jwks(signers))
    assert set(keys) == {s.kid for s in signers}, "every benchmark key must load from the JWKS"
    trusted = {ISSUER: TrustedKeys(ISSUER, AUDIENCE, ALGORITHMS, keys)}
    policy = TokenPolicy()
    issuer_keys = IssuerKeys([], "aud")
    issuer_keys.add_static(ISSUER, AUDIENCE, keys)
    guard = Guard(issuer_keys, policy, None)  # type: ignore[arg-type]  # unused on this path
    now = int(time.time())
    results: dict[str, tuple[Timing, Timing]] = {}
    for signer in signers:
        token = _token(signer, now)
        principal = verify_access_token(token, trusted, now, policy)
        assert principal.sub == "bench-practitioner" and principal.alg == signer.alg
        header = f"Bearer {token}"
        assert guard._principal(header) == principal  # first request: verified and cached

        def cold(token: str = token) -> object:
            return verify_access_token(token, trusted, now, policy)

        def warm(header: str = header) -> object:
            return guard._principal(header)

        results[signer.alg] = (
            _time(cold, cold_n, warmup=min(200, cold_n)),
            _time(warm, warm_n, warmup=min(2_000, warm_n)),
        )
    return results


def report(results: dict[str, tuple[Timing, Timing]], overhead_ns: float) -> bool:
    print(f"\n{'alg':<7} {'path':<5} {'n':>7} {'mean µs':>9} {'p50 µs':>9} {'p99 µs':>9}")
    for alg, timings in results.items():
        for path, timing in zip(("cold", "warm"), timings, strict=True):
            print(
                f"{alg:<7} {path:<5} {len(timing.samples_ns):>7} {timing.mean_us:>9.2f}"
                f" {timing.percentile_us(0.5):>9.2f} {timing.percentile_us(0.99):>9.2f}"
            )
    print(f"(each sample includes ~{overhead_ns / 1000:.2f} µs of perf_counter_ns overhead)")
    warm_worst = max(warm.mean_us for _cold, warm in results.values())
    cold_rs256 = results["RS256"][0].mean_us
    checks = [
        (f"warm < {WARM_GOAL_US:.0f} µs (worst mean {warm_worst:.2f} µs)", warm_worst),
        (f"cold RS256 < {COLD_RS256_GOAL_US:.0f} µs (mean {cold_rs256:.2f} µs)", cold_rs256),
    ]
    goals = (WARM_GOAL_US, COLD_RS256_GOAL_US)
    met = True
    print()
    for (label, value), goal in zip(checks, goals, strict=True):
        ok = value < goal
        met &= ok
        print(f"goal {label}: {'met' if ok else 'MISSED'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cold", type=int, default=5_000, help=f"at least {MIN_COLD}")
    parser.add_argument("--warm", type=int, default=50_000, help=f"at least {MIN_WARM}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    if args.cold < MIN_COLD or args.warm < MIN_WARM:
        parser.error(f"--cold must be >= {MIN_COLD} and --warm >= {MIN_WARM}")
    gc.collect()
    results = measure(args.cold, args.warm)
    met = report(results, _timer_overhead_ns())
    if args.strict and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
