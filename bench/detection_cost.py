"""Detection cost as a share of the evidence pipeline, in the same process and run.

Seals N realistic events, then times (a) the pipeline step (seal check, row, batched insert
into a fresh chDB store) and (b) the detection rules over the same rows (row -> detection
event, then the engine in place, as the detector runs them).
Goal: detection <= 20 % of pipeline time. `.venv/bin/python -m bench.detection_cost`.

By default all the pipeline runs first, then all the detection (every row kept meanwhile).
`--interleaved` runs detection right after each stored batch, as the inline processor does:
chDB's background work after each insert then competes with detection for the CPU, which on
two shared cores shows (and the same load weighs on the pipeline in production too).
"""

import argparse
import random
import tempfile
import time
import uuid
from typing import Any

from evidence.core import (
    GENESIS_HASH,
    AccessEvent,
    Decision,
    Pseudonymizer,
    canonical_bytes,
    chain_hash_bytes,
)
from evidence.core.record import evidence_payload
from evidence.store import open_evidence_store
from stream.detection import DetectionConfig, DetectionEngine, advance, detection_event_from_row
from stream.sealed import sealed_row

BATCH = 1000


def events(n: int, seed: int) -> list[AccessEvent]:
    """Normal clinical traffic: 300 clinicians of one EHR client, each reading within their
    own panel of 15 patients (a care team), 3 % not found; 2 ms apart (500 events/s)."""
    rng = random.Random(seed)
    panels = {c: [f"pat-{rng.randrange(1, 2001):05d}" for _ in range(15)] for c in range(300)}
    now = int(time.time() * 1_000_000)
    out = []
    for i in range(n):
        clinician = rng.randrange(300)
        patient = rng.choice(panels[clinician])
        denied = rng.random() < 0.03
        out.append(AccessEvent(
            event_id=uuid.UUID(int=rng.getrandbits(128)).hex, request_id=f"r{i}", trace_id="t",
            ts_us=now + i * 2_000, method="GET", route="/fhir/{resource_type}/{resource_id}",
            action="read", resource_type="Patient",
            decision=Decision.DENY if denied else Decision.ALLOW, status=404 if denied else 200,
            reasons=("not_found",) if denied else ("scope.granted", "careteam.member"),
            sub=f"clinician-{clinician}", client_id="ehr-app",
            fhir_user=f"Practitioner/prac-{clinician}", issuer="https://issuer.example",
            scopes_granted=("user/Patient.rs", "user/Observation.rs", "openid"),
            patient_ids=(patient,),
            resource_ids=(f"Patient/{patient}",), count_returned=0 if denied else 1,
        ))  # fmt: skip
    return out


Sealed = list[tuple[bytes, int, str, str]]


def seal(n: int) -> Sealed:
    pseudonymizer = Pseudonymizer(b"k" * 32)
    sealed, prev = [], GENESIS_HASH
    for seq, event in enumerate(events(n, 7), start=1):
        payload = canonical_bytes(evidence_payload(event, pseudonymizer))
        digest = chain_hash_bytes("bench", seq, prev, payload)
        sealed.append((payload, seq, prev, digest))
        prev = digest
    return sealed


class Timed:
    """The two steps, each timed on its own; detection state and alerts carried over."""

    def __init__(self) -> None:
        self.store = open_evidence_store(f"chdb://{tempfile.mkdtemp(prefix='fe-detect-')}")
        self.state, self.config = DetectionEngine(), DetectionConfig()
        self.alerts = 0
        self.pipeline_s = self.detection_s = 0.0
        self.pipeline_cpu_s = self.detection_cpu_s = 0.0  # this process's CPU (all threads)

    def pipeline(self, start: int, sealed: Sealed) -> list[dict[str, Any]]:
        began, cpu = time.perf_counter(), time.process_time()
        batch = [sealed_row(p, "bench", s, pv, h) for p, s, pv, h in sealed]
        self.store.insert_rows(batch, dedup_token=f"b{start}")
        self.pipeline_s += time.perf_counter() - began
        self.pipeline_cpu_s += time.process_time() - cpu
        return batch

    def detection(self, rows: list[dict[str, Any]]) -> None:
        began, cpu = time.perf_counter(), time.process_time()
        batch_events = [detection_event_from_row(r) for r in rows]
        self.alerts += len(advance(self.state, batch_events, self.config))  # in place
        self.detection_s += time.perf_counter() - began
        self.detection_cpu_s += time.process_time() - cpu


def run(sealed: Sealed, interleaved: bool) -> Timed:
    timed, rows = Timed(), []
    for start in range(0, len(sealed), BATCH):
        batch = timed.pipeline(start, sealed[start : start + BATCH])
        if interleaved:
            timed.detection(batch)
        else:
            rows.append(batch)
    for batch in rows:
        timed.detection(batch)
    return timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--interleaved", action="store_true")
    args = parser.parse_args()
    sealed = seal(args.events)
    timed, n = run(sealed, args.interleaved), len(sealed)
    pipeline_s, detection_s = timed.pipeline_s, timed.detection_s
    share = detection_s / (pipeline_s + detection_s)
    print(
        f"events {n}: pipeline {n / pipeline_s:,.0f}/s ({pipeline_s * 1e6 / n:.1f} us each), "
        f"detection {n / detection_s:,.0f}/s ({detection_s * 1e6 / n:.1f} us each), "
        f"{timed.alerts} alert updates"
    )
    mode = "interleaved" if args.interleaved else "sequential"
    print(f"detection share of pipeline time ({mode}): {share * 100:.1f} % (goal <= 20 %)")
    cpu_share = timed.detection_cpu_s / (timed.pipeline_cpu_s + timed.detection_cpu_s)
    print(
        f"by CPU time (less sensitive to other load): pipeline "
        f"{timed.pipeline_cpu_s * 1e6 / n:.1f} us, detection {timed.detection_cpu_s * 1e6 / n:.1f}"
        f" us per event, share {cpu_share * 100:.1f} %"
    )


if __name__ == "__main__":
    main()
