"""Where a guarded read's time goes: each step of the request path and of the evidence
pipeline behind it, timed in this process with time.perf_counter_ns over many repetitions
and printed in µs per request (bench.guarded_reads prints it after every run).

token (verified-token cache hit + rate limit), plan (scopes → access plan), SQL (the
stored resource), decide (its own verdict: reach, labels), serialization (the body served),
outbox (pseudonymise, seal, group commit with fsync: 16 requests per commit, as under 16
connections), relay (reading the outbox back), seal check + enrichment, insert (the chDB
insert of 2,000-row batches), detection (the rules over the stored batch).
"""

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from api.access.devissuer import mint_token
from api.boot.alerting import build_step
from api.boot.runtime import build_runtime
from api.fhir.serving import FhirServing
from api.fhir.visibility import resource_verdict, served_body
from api.settings import Settings
from bench.events import search_event
from evidence.core.record import evidence_payload
from stream.outbox import OutboxReader, OutboxWriter

BATCH = 2000
EVENTS = 20_000
CONCURRENT = 16


def _per_call_us(work: Callable[[], object], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        work()
    return (time.perf_counter_ns() - started) / calls / 1000


class _Timed:
    """Wraps the step's sink or detection and adds up the time spent in it."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method, self.ns = inner, method, 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name != self.method:
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return target(*args, **kwargs)
            finally:
                self.ns += time.perf_counter_ns() - started

        return timed


def step_costs(seeded: Path, patients: Sequence[str], practitioner: str) -> dict[str, float]:
    """µs per request of each step, on a copy of a data dir whose FHIR data is loaded."""
    work = Path(tempfile.mkdtemp(prefix="fhir-evidence-steps-"))
    shutil.copyfile(seeded / "fhir.sqlite", work / "fhir.sqlite")
    settings = Settings(data_dir=work, rate_limit_per_s=1e9, rate_limit_burst=1e9)
    runtime = build_runtime(settings, demo_data=False, inline=False)
    try:
        costs = _request_path(runtime.services.fhir, settings, patients, practitioner)
        costs.update(_pipeline(runtime, settings))
    finally:
        runtime.stop()
        shutil.rmtree(work, ignore_errors=True)
    return costs


def _request_path(fhir: FhirServing, settings: Settings, patients: Sequence[str],
                  practitioner: str) -> dict[str, float]:  # fmt: skip
    token = mint_token(settings, "bench-practitioner", "user/*.rs", ttl_s=3600,
                       fhir_user=practitioner, purpose="TREAT")  # fmt: skip
    guard, header = fhir.guard, f"Bearer {token}"
    principal = guard.authenticate(header)
    plan = guard.authorize(principal, "Patient", "read")
    stored = [fhir.data.read("Patient", pid) for pid in patients]
    rows = [s for s in stored if s is not None]
    n = len(rows)
    calls = 5000

    def token_step() -> None:
        guard.throttle(guard.authenticate(header))

    i = iter(range(10**9))
    return {
        "token": _per_call_us(token_step, calls),
        "plan": _per_call_us(lambda: guard.authorize(principal, "Patient", "read"), calls),
        "SQL": _per_call_us(lambda: fhir.data.read("Patient", patients[next(i) % n]), calls),
        "decide": _per_call_us(lambda: resource_verdict(fhir, plan, rows[next(i) % n]), calls),
        "serialization": _per_call_us(
            lambda: served_body(fhir, principal, plan, rows[next(i) % n]), calls
        ),
    }


def _pipeline(runtime: Any, settings: Settings) -> dict[str, float]:
    outbox: OutboxWriter = runtime.outbox
    pseudonymizer = runtime.services.auditing.pseudonymizer
    base_us = time.time_ns() // 1000
    events = [
        replace(search_event(n, base_us), route="/fhir/Patient/{id}", action="read",
                resource_type="Patient", resource_ids=(f"Patient/pat-{n % 2000:05d}",))
        for n in range(EVENTS)
    ]  # fmt: skip

    async def append_all() -> None:
        for start in range(0, EVENTS, CONCURRENT):
            await asyncio.gather(*(outbox.append(e) for e in events[start : start + CONCURRENT]))

    started = time.perf_counter_ns()
    asyncio.run(append_all())
    costs = {"outbox": (time.perf_counter_ns() - started) / EVENTS / 1000}
    _ = evidence_payload  # the payload function the writer runs (pseudonymizer: runtime's)
    reader = OutboxReader(settings.data_dir / "outbox.sqlite", "bench")
    started = time.perf_counter_ns()
    batches = [reader.read_after(s, BATCH) for s in range(0, EVENTS, BATCH)]
    costs["relay"] = (time.perf_counter_ns() - started) / EVENTS / 1000
    reader.close()
    step, alerting = build_step(settings, runtime.store, pseudonymizer, "inline")
    sink, detection = _Timed(step._sink, "insert_rows"), _Timed(step._detection, "observe")
    step._sink, step._detection = sink, detection
    started = time.perf_counter_ns()
    for batch in batches:
        step.run(batch)
    total = time.perf_counter_ns() - started
    alerting.stop()
    costs["seal check + enrichment"] = (total - sink.ns - detection.ns) / EVENTS / 1000
    costs["insert"] = sink.ns / EVENTS / 1000
    costs["detection"] = detection.ns / EVENTS / 1000
    return costs


def report(costs: Mapping[str, float]) -> str:
    lines = [f"  {name:<26} {us:>9.1f} µs" for name, us in costs.items()]
    request = sum(costs[k] for k in ("token", "plan", "SQL", "decide", "serialization"))
    behind = sum(v for k, v in costs.items() if k not in ("token", "plan", "SQL", "decide",
                                                          "serialization"))  # fmt: skip
    lines.append(f"  {'request path (sum)':<26} {request:>9.1f} µs")
    lines.append(f"  {'evidence path (sum)':<26} {behind:>9.1f} µs")
    return "per request, each step (one process, in process):\n" + "\n".join(lines)
