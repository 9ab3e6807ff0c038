"""The scale benchmark: the evidence store (chDB through clickhouse-connect) at 10 million
events. `.venv/bin/python -m bench.evidence_scale [--rows 10000000] [--dir PATH]`.

1. Ingestion: the newest ten weeks of one API instance (`--sample`, 1,000,000 events) built
   with the real pipeline (AccessEvent -> pseudonymous payload -> chain seal -> row) and
   inserted in 100,000-row batches with `EvidenceStore.insert_rows` (the ingest views: JSON
   rows parsed by the engine, the events and the by-patient index written side by side). Only
   the insert calls are timed (building the rows is not). Two bounds of this machine follow:
   the engine re-inserting stored rows into a copy, and the engine parsing the rows alone.
2. Fill: the rest, two years of three more instances with the same distributions (5,000
   principals, 200,000 patients). Python draws the varying values and computes each
   producer's hash chain (SHA-256 over the canonical payload, rendered from a template per
   event shape and spot-checked against the real encoding); the engine expands the compact
   rows into full rows (INSERT ... SELECT into the ingest views below the parse step, so the
   events and the by-patient index are written as on any insert). Then OPTIMIZE ... FINAL,
   as a settled store.
3. Queries, warm, through the real store methods: a patient's accesses over all time (first
   page of 100) for random patients, a principal's timeline for one day (up to 1,000) for
   random (principal, day) pairs that hold events; then the same questions by full scan.
4. Verification: signed checkpoints over everything, then `verify_store` over all time
   (content hashes, links, checkpoint roots, the by-patient index) over every event.

Goals: at 10M p50 < 20 ms and p99 < 100 ms (100M: p50 < 50 ms), verification
>= 200,000 events/s, ingestion >= 300,000 rows/s. Run it alone: two shared cores make the
numbers meaningless. `--rows 100000000` asks for 60 GB of free disk and takes about two hours.
"""

import argparse
import os
import random
import shutil
import tempfile
import time
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from bench.harness import percentile
from evidence.core import GENESIS_HASH, AccessEvent, Decision, Pseudonymizer, canonical_bytes
from evidence.core.chain import chain_hash_bytes
from evidence.core.record import evidence_payload, hour_of_week, jti_hash, to_evidence_record
from evidence.store import EvidenceStore, open_evidence_store
from evidence.store.access_query import FOREVER_US
from evidence.store.columns import READ_COLUMNS, ROW_COLUMNS
from evidence.store.ingest import PARSED_TABLE
from evidence.store.row_check import checked_rows
from evidence.store.seal.checkpointer import Checkpointer
from evidence.store.seal.signing import signer_from_seed, verifiers
from evidence.store.verification import verify_store

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
PRINCIPALS = 5_000
PATIENTS = 200_000
PANEL = 300  # patients a principal usually sees (90 % of their accesses)
FILL_PRODUCERS = 3
SPAN_US = 730 * DAY_US
SAMPLE_SPAN_US = 70 * DAY_US
BATCH = 100_000
CHUNK = 500_000
CHECK_EVERY = 100_000  # fill rows whose template rendering is compared with the real encoding
PATIENT_PAGE = 100
DAY_PAGE = 1_000
KEY = b"bench-scale-pseudonym-key-0123456789"
BYTES_PER_ROW = 600  # free disk asked per event (10M measured: ~390 B at rest, peak ~840 B
# while the parts OPTIMIZE replaced await removal)
CLIENTS = ("ehr-app", "mobile-rounds", "analytics-portal")
CLIENT_WEIGHTS = (80, 15, 5)
RESOURCE_TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "Encounter")
SCOPES = tuple(f"user/{t}.rs" for t in RESOURCE_TYPES)


@dataclass(frozen=True, slots=True)
class Kind:
    action: str
    resource_type: str
    query_params: tuple[str, ...]
    weight: int
    prefix: str  # raw resource ids: "<prefix>-<patient>-<n>"

    @property
    def route(self) -> str:
        if self.action == "read":
            return "/fhir/{resource_type}/{resource_id}"
        return "/fhir/{resource_type}"


KINDS = (
    Kind("search", "Observation", ("patient", "category", "date"), 30, "obs"),
    Kind("read", "Observation", (), 15, "obs"),
    Kind("read", "Patient", (), 15, ""),
    Kind("search", "Condition", ("patient",), 10, "cond"),
    Kind("search", "MedicationRequest", ("patient", "status"), 10, "medrx"),
    Kind("read", "Encounter", (), 15, "enc"),
    Kind("search", "Patient", ("name", "birthdate"), 5, ""),  # 1-5 patients per event
)


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    status: int
    reasons: tuple[str, ...]
    weight: int


OUTCOMES = (
    Outcome(Decision.ALLOW, 200, ("scope.granted", "careteam.member"), 95),
    Outcome(Decision.DENY, 403, ("scope.granted", "careteam.not_member"), 3),
    Outcome(Decision.PARTIAL, 200, ("scope.granted", "careteam.member", "label.withheld"), 2),
)


class Spec(NamedTuple):
    """The varying values of one event (everything else follows from kind and outcome)."""

    event_id: str
    request_id: str
    trace_id: str
    ts_us: int
    principal: int
    client: int
    kind: int
    outcome: int
    patients: tuple[int, ...]
    resources: tuple[str, ...]  # raw "Type/id"
    count_returned: int
    count_withheld: int
    jti_hash: str


def patient_id(index: int) -> str:
    return f"pat-{index:06d}"


def sub_of(principal: int) -> str:
    return f"user-{principal:05d}"


def fhir_user_of(principal: int) -> str:
    return f"Practitioner/prac-{principal:05d}"


_PRINCIPAL_CUM = list(accumulate(1 / (k + 10) for k in range(PRINCIPALS)))  # a long tail
_KIND_CUM = list(accumulate(k.weight for k in KINDS))
_OUTCOME_CUM = list(accumulate(o.weight for o in OUTCOMES))
_CLIENT_CUM = list(accumulate(CLIENT_WEIGHTS))


def _draw(rng: random.Random, cumulative: list[Any]) -> int:
    return bisect(cumulative, rng.random() * cumulative[-1])


def specs(seed: int, count: int, start_us: int, span_us: int) -> Iterator[Spec]:
    """`count` events of one producer, in sequence order, spread over [start, start + span)."""
    rng = random.Random(seed)
    step = span_us / count
    for i in range(count):
        ts = start_us + int(i * step) + rng.randrange(max(1, int(step)))
        principal = min(_draw(rng, _PRINCIPAL_CUM), PRINCIPALS - 1)
        kind_index, outcome_index = _draw(rng, _KIND_CUM), _draw(rng, _OUTCOME_CUM)
        kind = KINDS[kind_index]
        if rng.random() < 0.9:
            patient = (principal * 7919 + rng.randrange(PANEL) * 613) % PATIENTS
        else:
            patient = rng.randrange(PATIENTS)
        patients: tuple[int, ...] = (patient,)
        if kind.action == "read":
            n = 1
        elif kind.resource_type == "Patient":
            patients = tuple({patient, *(rng.randrange(PATIENTS) for _ in range(rng.randrange(5)))})
            n = len(patients)
        else:
            n = rng.randrange(6)
        if kind.resource_type == "Patient":
            resources = tuple(f"Patient/{patient_id(p)}" for p in patients)
        else:
            resources = tuple(
                f"{kind.resource_type}/{kind.prefix}-{patient}-{rng.randrange(200)}"
                for _ in range(n)
            )
        withheld = 0
        if OUTCOMES[outcome_index].decision is Decision.DENY:
            resources, n = (), 0
        elif OUTCOMES[outcome_index].decision is Decision.PARTIAL:
            withheld = 1 + rng.randrange(3)
        yield Spec(
            event_id=f"{rng.getrandbits(128):032x}",
            request_id=f"{rng.getrandbits(128):032x}",
            trace_id=f"{rng.getrandbits(128):032x}",
            ts_us=ts,
            principal=principal,
            client=_draw(rng, _CLIENT_CUM),
            kind=kind_index,
            outcome=outcome_index,
            patients=patients,
            resources=resources,
            count_returned=len(resources),
            count_withheld=withheld,
            jti_hash=jti_hash(f"jti-{principal}-{ts // HOUR_US}"),
        )


def to_event(s: Spec) -> AccessEvent:
    kind, outcome = KINDS[s.kind], OUTCOMES[s.outcome]
    scope = f"user/{kind.resource_type}.rs"
    return AccessEvent(
        event_id=s.event_id, request_id=s.request_id, trace_id=s.trace_id, ts_us=s.ts_us,
        method="GET", route=kind.route, action=kind.action, resource_type=kind.resource_type,
        decision=outcome.decision, status=outcome.status, reasons=outcome.reasons,
        sub=sub_of(s.principal), client_id=CLIENTS[s.client],
        issuer="https://idp.hospital.example", token_alg="RS256", token_kid="rsa-2024",
        token_jti_hash=s.jti_hash, token_model="jwt", fhir_user=fhir_user_of(s.principal),
        purpose_of_use="TREAT", scopes_granted=SCOPES, scopes_used=(scope,),
        patient_ids=tuple(patient_id(p) for p in s.patients), resource_ids=s.resources,
        query_params=kind.query_params, count_returned=s.count_returned,
        count_withheld=s.count_withheld, policy_version="policy-2025.1",
    )  # fmt: skip


def sealed_rows(
    source: Iterator[Spec], producer: str, first: int, prev: str, ps: Pseudonymizer
) -> Iterator[dict[str, Any]]:
    """Rows exactly as the outbox seals them (the real pipeline, one event at a time)."""
    for sequence, spec in enumerate(source, start=first):
        payload = evidence_payload(to_event(spec), ps)
        event_hash = chain_hash_bytes(producer, sequence, prev, canonical_bytes(payload))
        yield to_evidence_record(payload, producer, sequence, prev, event_hash).as_row()
        prev = event_hash


# --- the fill: compact rows from Python, expanded by the engine -----------------------------

SLOTS = (
    "event_id", "request_id", "trace_id", "ts_us", "sub", "client_id", "token_jti_hash",
    "fhir_user", "patient_hashes", "resource_hashes", "count_returned", "count_withheld",
)  # fmt: skip
STAGING = (
    ("event_id", "String"), ("request_id", "String"), ("trace_id", "String"),
    ("ts_us", "Int64"), ("principal", "UInt32"), ("client", "UInt8"), ("kind", "UInt8"),
    ("outcome", "UInt8"), ("token_jti_hash", "String"), ("patient_hashes", "Array(String)"),
    ("resource_hashes", "Array(String)"), ("count_returned", "UInt32"),
    ("count_withheld", "UInt32"), ("sequence", "UInt64"), ("prev_hash", "String"),
    ("event_hash", "String"), ("hour_of_week", "UInt8"),
)  # fmt: skip
_BY_KIND = {"route": "String", "action": "String", "resource_type": "String",
            "scopes_used": "Array(String)", "query_params": "Array(String)"}  # fmt: skip
_BY_OUTCOME = {"decision": "String", "status": "UInt16", "reasons": "Array(String)"}


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, int):
        return str(value)
    return "[" + ", ".join(_lit(v) for v in value) + "]"


def _dummy(kind: int, outcome: int) -> Spec:
    return Spec("0" * 32, "1" * 32, "2" * 32, 1_700_000_000_000_000, 7, 0, kind, outcome,
                (3,), ("Observation/obs-3-1",), 1, 0, "ab" * 16)  # fmt: skip


class Fill:
    """Renders canonical payloads from per-shape templates (a %-format string per kind and
    outcome with the varying values as slots) and the SQL that expands staged rows."""

    def __init__(self, ps: Pseudonymizer) -> None:
        self.ps = ps
        self.patient_hashes = [ps.patient(patient_id(p)) for p in range(PATIENTS)]
        self.payloads = {
            (k, o): evidence_payload(to_event(_dummy(k, o)), ps)
            for k in range(len(KINDS))
            for o in range(len(OUTCOMES))
        }
        self.templates: dict[tuple[int, int], str] = {}
        orders = set()
        for shape, payload in self.payloads.items():
            marked = dict(payload, **{name: f"@@{name}@@" for name in SLOTS})
            text = canonical_bytes(marked).decode()
            orders.add(tuple(sorted(SLOTS, key=lambda n, t=text: t.index(f'"@@{n}@@"'))))  # type: ignore[misc]
            text = text.replace("%", "%%")
            for name in SLOTS:
                text = text.replace(f'"@@{name}@@"', "%s")
            self.templates[shape] = text
        (self.order,) = orders  # keys are sorted: the same slot order for every shape
        for (k, o), payload in self.payloads.items():  # what expand_sql assumes
            for name, value in payload.items():
                if name in SLOTS:
                    continue
                shape = (k, 0) if name in _BY_KIND else (0, o) if name in _BY_OUTCOME else (0, 0)
                assert value == self.payloads[shape][name], name

    def chunk(
        self, source: Iterator[Spec], producer: str, first: int, prev: str
    ) -> tuple[list[list[Any]], str]:
        """Staging columns of the specs (the chain continued from `prev`), and the new head."""
        columns: list[list[Any]] = [[] for _ in STAGING]
        (event_ids, request_ids, trace_ids, stamps, principals, clients, kinds, outcomes, jtis,
         patient_col, resource_col, returned, withheld, sequences, prevs, hashes,
         hours) = columns  # fmt: skip
        reference = self.ps.reference
        for sequence, s in enumerate(source, start=first):
            patient_hashes = sorted({self.patient_hashes[p] for p in s.patients})
            resource_hashes = sorted({reference(r) for r in s.resources})
            values = {
                "event_id": f'"{s.event_id}"', "request_id": f'"{s.request_id}"',
                "trace_id": f'"{s.trace_id}"', "ts_us": s.ts_us,
                "sub": f'"{sub_of(s.principal)}"', "client_id": f'"{CLIENTS[s.client]}"',
                "token_jti_hash": f'"{s.jti_hash}"', "fhir_user": f'"{fhir_user_of(s.principal)}"',
                "patient_hashes": _json_list(patient_hashes),
                "resource_hashes": _json_list(resource_hashes),
                "count_returned": s.count_returned, "count_withheld": s.count_withheld,
            }  # fmt: skip
            text = self.templates[(s.kind, s.outcome)] % tuple(values[n] for n in self.order)
            payload = text.encode()
            if sequence % CHECK_EVERY == 1:
                assert payload == canonical_bytes(evidence_payload(to_event(s), self.ps))
            event_hash = chain_hash_bytes(producer, sequence, prev, payload)
            event_ids.append(s.event_id)
            request_ids.append(s.request_id)
            trace_ids.append(s.trace_id)
            stamps.append(s.ts_us)
            principals.append(s.principal)
            clients.append(s.client)
            kinds.append(s.kind)
            outcomes.append(s.outcome)
            jtis.append(s.jti_hash)
            patient_col.append(patient_hashes)
            resource_col.append(resource_hashes)
            returned.append(s.count_returned)
            withheld.append(s.count_withheld)
            sequences.append(sequence)
            prevs.append(prev)
            hashes.append(event_hash)
            hours.append(hour_of_week(s.ts_us))
            prev = event_hash
        return columns, prev

    def expand_sql(self, db: str) -> str:
        """INSERT ... SELECT of full rows from the staged ones (constants from the same
        payloads the templates came from, so the engine writes what the chain hashed)."""
        staged = {name for name, _ in STAGING}
        constants = self.payloads[(0, 0)]
        kinds = len(KINDS)
        exprs: list[str] = []
        for name in ROW_COLUMNS:
            if name in staged:
                expr = name
            elif name in _BY_KIND:
                values = [self.payloads[(k, 0)][name] for k in range(kinds)]
                expr = f"CAST({_lit(values)} AS Array({_BY_KIND[name]}))[kind + 1]"
            elif name in _BY_OUTCOME:
                values = [self.payloads[(0, o)][name] for o in range(len(OUTCOMES))]
                expr = f"CAST({_lit(values)} AS Array({_BY_OUTCOME[name]}))[outcome + 1]"
            elif name == "sub":
                expr = "concat('user-', leftPad(toString(principal), 5, '0'))"
            elif name == "fhir_user":
                expr = "concat('Practitioner/prac-', leftPad(toString(principal), 5, '0'))"
            elif name == "client_id":
                expr = f"CAST({_lit(CLIENTS)} AS Array(String))[client + 1]"
            elif name == "producer_id":
                expr = "{producer:String}"
            elif isinstance(constants[name], list):
                expr = f"CAST({_lit(constants[name])} AS Array(String))"
            else:
                expr = _lit(constants[name])
            exprs.append(f"{expr} AS {name}")
        names = ", ".join(ROW_COLUMNS)
        # Into the ingest views below the parse step, as a parsed batch (see evidence.store.
        # ingest): the events and their by-patient entries, the copies rendered by the engine.
        return (
            f"INSERT INTO {db}.{PARSED_TABLE} ({names}, stored_at, row) "
            f"SELECT *, now64(3), formatRowNoNewline('JSONEachRow', {names}) "
            f"FROM (SELECT {', '.join(exprs)} FROM {db}.bench_fill)"
        )


def _json_list(items: list[str]) -> str:
    return "[" + ",".join(f'"{item}"' for item in items) + "]"


def native_insert(
    store: EvidenceStore,
    table: str,
    names: Sequence[str],
    columns: list[list[Any]],
    settings: dict[str, Any] | None = None,
) -> None:
    """clickhouse-connect's native column-oriented insert through the store's one client
    (EvidenceStore has no such method: the application inserts JSON rows)."""
    target = f"{store.database}.{table}"
    store._call(  # the store's lock and error translation
        lambda c: c.insert(
            target, columns, column_names=list(names), column_oriented=True, settings=settings
        )
    )


# --- the steps ---------------------------------------------------------------------------------


@dataclass
class Results:
    lines: list[tuple[str, str, str]]

    def add(self, label: str, value: str, goal: str = "") -> None:
        self.lines.append((label, value, goal))
        print(f"  {label:<58} {value:>18}  {goal}", flush=True)


def ingest_sample(
    store: EvidenceStore, count: int, end_us: int, ps: Pseudonymizer, out: Results
) -> None:
    source = specs(1, count, end_us - SAMPLE_SPAN_US, SAMPLE_SPAN_US)
    rows_iter = sealed_rows(source, "api-1", 1, GENESIS_HASH, ps)
    inserted, elapsed, build, encode = 0, 0.0, 0.0, 0.0
    for _ in range(0, (count + BATCH - 1) // BATCH):
        start = time.perf_counter()
        rows = [row for _, row in zip(range(BATCH), rows_iter, strict=False)]
        build += time.perf_counter() - start
        start = time.perf_counter()
        store.insert_rows(rows, dedup_token=f"bench:{rows[0]['sequence']}")
        elapsed += time.perf_counter() - start
        inserted += len(rows)
        start = time.perf_counter()  # its client-side part again, alone
        orjson.dumps(checked_rows(rows))
        encode += time.perf_counter() - start
    out.add(
        f"build {count:,} sealed rows (real pipeline; not timed below)",
        f"{count / build:,.0f} rows/s",
    )
    out.add(f"insert_rows ({inserted:,} rows, 100k/insert)",
            f"{inserted / elapsed:,.0f} rows/s", ">= 300,000 rows/s")  # fmt: skip
    out.add("  of which checks and JSON in Python", f"{encode / elapsed:.0%} of the time")
    out.add("engine alone: INSERT ... SELECT of stored rows into a copy",
            f"{engine_ceiling(store, count):,.0f} rows/s")  # fmt: skip
    out.add("engine: parse only (JSONEachRow batches into a Null table)",
            f"{parse_ceiling(store):,.0f} rows/s")  # fmt: skip


def parse_ceiling(store: EvidenceStore) -> float:
    """Rows/s the engine parses JSON rows of this width at (JSONEachRow into a Null table):
    a bound on any JSON ingestion into this store on this machine."""
    db, cols = store.database, ", ".join(ROW_COLUMNS)
    store.command(f"CREATE TABLE {db}.bench_parse AS {db}.access_events ENGINE = Null")
    rows = store.select(
        f"SELECT {cols} FROM {db}.access_events WHERE producer_id = 'api-1' LIMIT {BATCH}", {}
    )
    block = orjson.dumps([{**row, "reasons": list(row["reasons"])} for row in rows])
    try:
        start = time.perf_counter()
        for _ in range(3):
            store.raw_insert("bench_parse", ROW_COLUMNS, block, "JSONEachRow")
        elapsed = time.perf_counter() - start
    finally:
        store.command(f"DROP TABLE {db}.bench_parse")
    return 3 * len(rows) / elapsed


def engine_ceiling(store: EvidenceStore, count: int) -> float:
    """Rows/s of the storage engine alone on this machine: stored rows inserted again into a
    table of the same definition (no client, no parsing, no by-patient view)."""
    db, cols = store.database, ", ".join(ROW_COLUMNS)
    store.command(f"CREATE TABLE {db}.bench_ceiling AS {db}.access_events")
    rows = min(count, 3 * BATCH)
    start = time.perf_counter()
    for low in range(1, rows + 1, BATCH):
        store.command(
            f"INSERT INTO {db}.bench_ceiling ({cols}) SELECT {cols} FROM {db}.access_events "
            "WHERE producer_id = 'api-1' AND sequence >= {l:UInt64} AND sequence < {h:UInt64}",
            {"l": low, "h": low + BATCH},
        )
    elapsed = time.perf_counter() - start
    store.command(f"DROP TABLE {db}.bench_ceiling")
    return rows / elapsed


def fill(store: EvidenceStore, total: int, end_us: int, ps: Pseudonymizer, out: Results) -> None:
    db = store.database
    staging = ", ".join(f"{name} {kind}" for name, kind in STAGING)
    store.command(f"CREATE TABLE IF NOT EXISTS {db}.bench_fill ({staging}) ENGINE = Memory")
    renderer = Fill(ps)
    expand = renderer.expand_sql(db)
    names = [name for name, _ in STAGING]
    python = stage = engine = 0.0
    per_producer = [
        total // FILL_PRODUCERS + (i < total % FILL_PRODUCERS) for i in range(FILL_PRODUCERS)
    ]
    for index, count in enumerate(per_producer):
        producer = f"api-{index + 2}"
        source = specs(index + 2, count, end_us - SPAN_US, SPAN_US)
        prev, done = GENESIS_HASH, 0
        while done < count:
            size = min(CHUNK, count - done)
            t0 = time.perf_counter()
            part = (s for _, s in zip(range(size), source, strict=False))
            columns, prev = renderer.chunk(part, producer, done + 1, prev)
            t1 = time.perf_counter()
            native_insert(store, "bench_fill", names, columns)
            t2 = time.perf_counter()
            store.command(expand, {"producer": producer})
            store.command(f"TRUNCATE TABLE {db}.bench_fill")
            t3 = time.perf_counter()
            python, stage, engine = python + t1 - t0, stage + t2 - t1, engine + t3 - t2
            done += size
            print(f"    {producer}: {done:,}/{count:,}", flush=True)
    store.command(f"DROP TABLE {db}.bench_fill")
    seconds = python + stage + engine
    out.add(f"fill {total:,} rows ({FILL_PRODUCERS} producers, two years)", f"{seconds:,.0f} s")
    out.add("  Python: draw values, render, chain", f"{python:,.0f} s")
    out.add("  stage compact rows (native insert, Memory table)", f"{stage:,.0f} s")
    out.add("  engine: expand into the ingest views (events + index)", f"{engine:,.0f} s")


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def timed_ms(work: Callable[[Any], list[dict[str, Any]]], key: Any) -> tuple[float, int]:
    start = time.perf_counter()
    rows = work(key)
    return (time.perf_counter() - start) * 1000, len(rows)


def query(
    store: EvidenceStore, queries: int, scans: int, seed: int, out: Results, p50_goal: float
) -> None:
    db = store.database
    patients = [
        str(r["patient_hash"])
        for r in store.select(
            f"SELECT patient_hash FROM (SELECT DISTINCT patient_hash FROM {db}.access_by_patient)"
            " ORDER BY cityHash64(patient_hash, {seed:UInt64}) LIMIT {n:UInt32}",
            {"seed": seed, "n": queries},
        )
    ]
    days = [
        (str(r["sub"]), int(r["day"]) * DAY_US)
        for r in store.select(
            f"SELECT sub, intDiv(ts_us, {DAY_US}) AS day FROM {db}.access_events "
            "ORDER BY cityHash64(event_id, {seed:UInt64}) LIMIT {n:UInt32}",
            {"seed": seed, "n": queries},
        )
    ]  # (principal, day) pairs weighted by events: the days an auditor has reason to open

    def by_patient(p: str) -> list[dict[str, Any]]:
        return store.accesses_by_patient(p, 0, FOREVER_US, PATIENT_PAGE)

    def by_day(d: tuple[str, int]) -> list[dict[str, Any]]:
        return store.accesses_by_principal(d[0], d[1], d[1] + DAY_US, DAY_PAGE)

    cols = ", ".join(READ_COLUMNS)
    order = "ORDER BY ts_us DESC, event_id DESC LIMIT {n:UInt32} SETTINGS use_skip_indexes = 0"
    scan_patient_sql = (
        f"SELECT {cols} FROM {db}.access_events FINAL WHERE has(patient_hashes, {{v:String}}) "
        f"{order}"
    )
    scan_day_sql = (  # identity(): the same predicate, but the sort key cannot be used
        f"SELECT {cols} FROM {db}.access_events FINAL WHERE identity(sub) = {{v:String}} "
        f"AND identity(ts_us) >= {{s:Int64}} AND identity(ts_us) < {{u:Int64}} {order}"
    )

    def scan_patient(p: str) -> list[dict[str, Any]]:
        return store.select(scan_patient_sql, {"v": p, "n": PATIENT_PAGE})

    def scan_day(d: tuple[str, int]) -> list[dict[str, Any]]:
        return store.select(scan_day_sql, {"v": d[0], "s": d[1], "u": d[1] + DAY_US, "n": DAY_PAGE})

    # the full scans answer the same question: same rows
    assert [r["event_id"] for r in by_patient(patients[0])] == [
        r["event_id"] for r in scan_patient(patients[0])
    ]
    assert [r["event_id"] for r in by_day(days[0])] == [r["event_id"] for r in scan_day(days[0])]
    questions: list[
        tuple[
            str,
            Callable[[Any], list[dict[str, Any]]],
            Callable[[Any], list[dict[str, Any]]],
            list[Any],
        ]
    ] = [
        ("accesses to one patient, all time (page of 100)", by_patient, scan_patient, patients),
        ("one principal's timeline for one day (<= 1,000)", by_day, scan_day, days),
    ]
    for label, indexed, scan, keys in questions:
        for key in keys[:5]:  # warm-up
            indexed(key)
        measured = [timed_ms(indexed, key) for key in keys]
        latencies = [ms for ms, _ in measured]
        mean_rows = sum(n for _, n in measured) / len(measured)
        full = [timed_ms(scan, key)[0] for key in keys[:scans]]
        p50, p99, scan_p50 = (
            percentile(latencies, 0.5),
            percentile(latencies, 0.99),
            percentile(full, 0.5),
        )
        out.add(f"{label}: {len(keys)} queries, {mean_rows:.1f} rows avg", "")
        out.add("  p50 (store method, index)", f"{p50:.1f} ms", f"< {p50_goal:.0f} ms")
        out.add("  p99 (store method, index)", f"{p99:.1f} ms", "< 100 ms")
        out.add(f"  full scan p50 ({len(full)} queries)", f"{scan_p50:,.0f} ms")
        out.add("  ratio full scan / index (p50)", f"{scan_p50 / p50:,.1f} x")


def verify(store: EvidenceStore, checkpoints: bool, out: Results) -> None:
    signer = signer_from_seed(bytes(range(32)))
    if checkpoints:
        start = time.perf_counter()
        written = Checkpointer(store, signer).run_once(time.time_ns() // 1000)
        out.add(
            f"signed checkpoints over everything ({len(written)} written)",
            f"{time.perf_counter() - start:,.0f} s",
        )
    start = time.perf_counter()
    report = verify_store(store, 0, FOREVER_US, verifiers({"keys": [signer.jwk]}))
    elapsed = time.perf_counter() - start
    assert report.intact, report.as_dict()["problems"][:5]
    out.add(
        f"verify_store, all time ({report.events_checked:,} events, "
        f"{report.checkpoints_checked} checkpoints)",
        f"{elapsed:,.1f} s",
    )
    out.add(
        "  verification throughput",
        f"{report.events_checked / elapsed:,.0f} events/s",
        ">= 200,000 events/s",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="events in the store")
    parser.add_argument("--sample", type=int, default=1_000_000, help="events ingested by Python")
    parser.add_argument("--dir", type=Path, help="store directory (kept; default: a temp dir)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scans", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-checkpoints", action="store_true")
    args = parser.parse_args()
    sample = min(args.sample, args.rows)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="fe-scale-"))
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise SystemExit(f"{directory} is not empty")
    free = shutil.disk_usage(directory).free
    need = args.rows * BYTES_PER_ROW
    if free < need:
        raise SystemExit(f"{free / 1e9:.0f} GB free in {directory}, {need / 1e9:.0f} GB needed")
    out = Results([])
    print(
        f"evidence store at {args.rows:,} events in {directory} ({os.cpu_count()} cores, "
        f"{free / 1e9:.0f} GB free)",
        flush=True,
    )
    store = open_evidence_store(f"chdb://{directory}")
    ps = Pseudonymizer(KEY, 1)
    end_us = time.time_ns() // 1000 - HOUR_US
    try:
        ingest_sample(store, sample, end_us, ps, out)
        if args.rows > sample:
            fill(store, args.rows - sample, end_us, ps, out)
        start = time.perf_counter()
        for table in ("access_events", "access_by_patient"):
            store.command(f"OPTIMIZE TABLE {store.database}.{table} FINAL")
        out.add("OPTIMIZE ... FINAL (both tables)", f"{time.perf_counter() - start:,.0f} s")
        count = store.count_events()
        assert count == args.rows, count
        parts = store.select(
            "SELECT table, sum(rows) AS r, sum(bytes_on_disk) AS b FROM system.parts WHERE "
            "active AND database = {d:String} GROUP BY table ORDER BY table",
            {"d": store.database},
        )
        for part in parts:
            if part["table"] in ("access_events", "access_by_patient"):
                out.add(
                    f"{part['table']}: {int(part['r']):,} rows on disk",
                    f"{int(part['b']) / 1e9:.2f} GB",
                )
        out.add(
            "store directory (replaced parts not yet removed)",
            f"{disk_bytes(directory) / 1e9:.2f} GB",
        )
        p50_goal = 20.0 if args.rows <= 10_000_000 else 50.0
        query(store, args.queries, args.scans, args.seed, out, p50_goal)
        verify(store, not args.no_checkpoints, out)
        out.add(
            "store directory at the end (with checkpoints)", f"{disk_bytes(directory) / 1e9:.2f} GB"
        )
    finally:
        store.close()
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"\n{'':2}{'step':<58} {'result':>18}  goal")
    for label, value, goal in out.lines:
        print(f"  {label:<58} {value:>18}  {goal}")


if __name__ == "__main__":
    main()
