"""Labelled scenario: a compressed clinical "day" replayed through the real API, with
injected misuse whose expected alert kinds are known, scored as precision/recall per kind.

`.venv/bin/python -m bench.scenario [--minutes M] [--seed S]` starts a fresh server in a
temporary data dir (demo data), replays the plan, waits for the detector, reads
`/audit/alerts` and prints per kind: injected, alerted, TP, FP, FN, precision, recall; the
normal-traffic false-positive rate; the alert latency (trigger response -> alert visible in
`/audit/alerts`, polled every 100 ms); and the goal check (recall 1.0, precision >= 0.9,
latency p99 < 5 s).

Pieces (the plan is pure and deterministic for a seed; only `run_scenario` does I/O):
- `world_from_dataset(generate_dataset(...))`: practitioners, active care teams, VIP/staff
  flags, surnames, restricted patients.
- `build_scenario(world, seed, minutes, config)`: a `Scenario` of `Actor`s, each a principal
  with a credential and a request schedule; misusers carry the alert kinds they should raise
  and the step that completes each trigger (from the rule floors in `config`). Normal
  clinicians work only their own care-team patients; integration clients poll laboratory
  results of a fixed panel of unflagged patients (a `system/` client reading a VIP's data
  has no care relationship, so the VIP rule would flag it by design). The plan checks that
  no normal principal can reach a bulk floor and that none is planned to be denied.
- `run_scenario(...)`: one thread per actor on a shared clock, a poller recording when each
  (kind, principal) first shows up, then every alert read back with paging.
- `score(...)`: TP = alert on an injected misuser labelled with its kind; FP = alert of that
  kind on any other principal; FN = labelled (principal, kind) pair without an alert.

Not replayed: `dormant_principal` (needs 30 days of silence) and `after_hours` (needs a week
of history): both depend on long stretches of real time and are replayed over a
labelled week by `bench.misuse` (and the unit tests).
The windows are real time, so the day is compressed by keeping normal traffic light and
misuse fast; the slow scrape stays under the 1-minute floor and is caught by the 5-minute
one, which takes about 3 minutes at the default floors.
"""

import argparse
import math
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.data.facts import FLAG_SYSTEM
from stream.detection.config import KINDS, DetectionConfig

VIP, STAFF = "vip", "staff"
NOT_REPLAYED = {
    "dormant_principal": "needs 30 days of silence before the first request",
    "after_hours": "needs 200 events spanning a week to learn usual hours",
}
BULK_WINDOWS_S = (("1m", 60.0), ("5m", 300.0), ("1h", 3600.0))
OK, DENIED, MISSING = "ok", "denied", "missing"  # expected outcome of a step: 2xx, 403, 404
CLINICIAN, INTEGRATION, MISUSE = "clinician", "integration", "misuse"
KIND_BULK = "bulk_access_spike"
PROBED = (
    "Condition",
    "Observation",
    "Encounter",
    "MedicationRequest",
    "CareTeam",
    "Practitioner",
    "Group",
)


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """What the scenario needs to know about the demo data."""

    practitioner_family: Mapping[str, str]  # practitioner id -> family name (lower case)
    patient_family: Mapping[str, str]  # patient id -> family name (lower case)
    flags: Mapping[str, frozenset[str]]  # patient id -> {"vip"} / {"staff"} / {}
    restricted: frozenset[str]  # patients whose Patient resource carries a security label
    care_teams: Mapping[str, tuple[str, ...]]  # practitioner id -> active care-team patients

    def flagged(self, flag: str) -> list[str]:
        return sorted(p for p, f in self.flags.items() if flag in f)

    def plain(self) -> list[str]:
        """Patients without flags or security labels (reads of them raise nothing)."""
        flagged, restricted = self.flags, self.restricted
        return sorted(p for p in self.patient_family if not flagged[p] and p not in restricted)

    def on_team(self, practitioner: str, patient: str) -> bool:
        return patient in self.care_teams.get(practitioner, ())


def _family(resource: Mapping[str, Any]) -> str:
    names = resource.get("name") or [{}]
    return str(names[0].get("family", "")).strip().lower()


def world_from_dataset(resources: Iterable[Mapping[str, Any]]) -> World:
    practitioners: dict[str, str] = {}
    patients: dict[str, str] = {}
    flags: dict[str, frozenset[str]] = {}
    restricted: set[str] = set()
    teams: dict[str, set[str]] = {}
    for r in resources:
        kind = r["resourceType"]
        if kind == "Practitioner":
            practitioners[r["id"]] = _family(r)
        elif kind == "Patient":
            meta = r.get("meta", {})
            patients[r["id"]] = _family(r)
            tags = meta.get("tag", [])
            flags[r["id"]] = frozenset(
                str(t["code"]) for t in tags if t.get("system") == FLAG_SYSTEM
            )
            if meta.get("security"):
                restricted.add(r["id"])
        elif kind == "CareTeam" and r.get("status") == "active":
            patient = str(r["subject"]["reference"]).split("/")[-1]
            for participant in r.get("participant", []):
                member = str(participant["member"]["reference"]).split("/")[-1]
                teams.setdefault(member, set()).add(patient)
    return World(
        practitioner_family=practitioners,
        patient_family=patients,
        flags=flags,
        restricted=frozenset(restricted),
        care_teams={k: tuple(sorted(v)) for k, v in teams.items()},
    )


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Credential:
    sub: str
    scope: str
    fhir_user: str = ""
    purpose: str = ""

    def claims(self) -> dict[str, str]:
        """Optional claims under their JWT names (fhirUser, purpose_of_use)."""
        extra = {"fhirUser": self.fhir_user, "purpose_of_use": self.purpose}
        return {name: value for name, value in extra.items() if value}


@dataclass(frozen=True)
class Step:
    at_s: float  # offset from the start of the run
    path: str  # GET path with query
    headers: tuple[tuple[str, str], ...] = ()
    outcome: str = OK  # expected: OK (2xx), DENIED (403), MISSING (404)
    patients: tuple[str, ...] = ()  # patients whose data it may return (upper bound)


@dataclass(frozen=True)
class Actor:
    principal: str  # the token's sub
    role: str  # CLINICIAN | INTEGRATION | MISUSE
    credential: Credential
    steps: tuple[Step, ...]
    story: str
    expected: tuple[str, ...] = ()  # alert kinds it must raise (labels)
    triggers: tuple[tuple[str, int], ...] = ()  # kind -> index of the step completing it

    @property
    def normal(self) -> bool:
        return self.role != MISUSE

    def trigger_step(self, kind: str) -> int | None:
        return dict(self.triggers).get(kind)


@dataclass(frozen=True)
class Scenario:
    seed: int
    minutes: float
    config: DetectionConfig
    actors: tuple[Actor, ...]

    @property
    def normal(self) -> list[Actor]:
        return [a for a in self.actors if a.normal]

    @property
    def misusers(self) -> list[Actor]:
        return [a for a in self.actors if not a.normal]

    @property
    def labels(self) -> frozenset[tuple[str, str]]:
        """(principal, kind) pairs that must be alerted."""
        return frozenset((a.principal, k) for a in self.misusers for k in a.expected)

    @property
    def end_s(self) -> float:
        return max((s.at_s for a in self.actors for s in a.steps), default=0.0)

    @property
    def requests(self) -> int:
        return sum(len(a.steps) for a in self.actors)

    def actor(self, principal: str) -> Actor | None:
        return next((a for a in self.actors if a.principal == principal), None)


def _first_reaching(times: Sequence[float], floor: int, window_s: float) -> int | None:
    """Index at which `floor` events fall within one sliding window (now - w, now]."""
    start = 0
    for i, t in enumerate(times):
        while times[start] <= t - window_s:
            start += 1
        if i - start + 1 >= floor:
            return i
    return None


def bulk_profile(
    steps: Sequence[Step], config: DetectionConfig
) -> tuple[int | None, dict[str, int]]:
    """(index of the step at which a distinct-patient floor is reached or None, the highest
    distinct count seen per window), as the bulk rule would count the planned steps."""
    limits = {
        "1m": config.bulk_spike_floor_1m,
        "5m": config.bulk_spike_floor_5m,
        "1h": config.bulk_spike_floor_1h,
    }
    last_seen: dict[str, float] = {}
    peak = dict.fromkeys(limits, 0)
    first: int | None = None
    for i, step in enumerate(steps):
        if step.outcome != OK or not step.patients:
            continue
        for patient in step.patients:
            last_seen[patient] = step.at_s
        for label, window in BULK_WINDOWS_S:
            count = sum(1 for t in last_seen.values() if t > step.at_s - window)
            peak[label] = max(peak[label], count)
            if first is None and count >= limits[label]:
                first = i
    return first, peak


def _denial_trigger(steps: Sequence[Step], config: DetectionConfig) -> int | None:
    denied = [(i, s.at_s) for i, s in enumerate(steps) if s.outcome != OK]
    hit = _first_reaching([t for _, t in denied], config.denied_burst_floor_1m, 60.0)
    return None if hit is None else denied[hit][0]


def _enumeration_trigger(steps: Sequence[Step], config: DetectionConfig) -> int | None:
    misses = [(i, s.at_s) for i, s in enumerate(steps) if s.outcome == MISSING]
    hit = _first_reaching([t for _, t in misses], config.enumeration_not_found_floor_5m, 300.0)
    return None if hit is None else misses[hit][0]


def _read(patient: str, at_s: float) -> Step:
    return Step(at_s, f"/fhir/Patient/{patient}", patients=(patient,))


def _clinician(
    world: World, rng: random.Random, practitioner: str, duration_s: float, pace: float
) -> Actor:
    """A shift: a worklist search, then visits of care-team patients (read the Patient,
    search its Observations, Conditions, Encounters), busier in the middle of the day."""
    sub = f"dr-{practitioner}"
    team = [p for p in world.care_teams.get(practitioner, ()) if p not in world.restricted]
    start = rng.uniform(0.0, 0.15 * duration_s)
    end = rng.uniform(0.85 * duration_s, duration_s)
    worklist = tuple(f"{sub}#worklist-{i}" for i in range(min(10, len(team))))  # unknown ten
    steps = [Step(start, "/fhir/Patient?_count=10", patients=worklist)]
    t = start + rng.uniform(2.0, 8.0)
    while team and t < end:
        patient = rng.choice(team)
        q = f"patient={patient}"
        steps.append(_read(patient, t))
        steps.append(
            Step(t + 0.8, f"/fhir/Observation?{q}&_count=10&_sort=-date", patients=(patient,))
        )
        steps.append(Step(t + 1.6, f"/fhir/Condition?{q}&_count=10", patients=(patient,)))
        if rng.random() < 0.5:
            steps.append(
                Step(t + 2.4, f"/fhir/Encounter?{q}&_count=5&_sort=-date", patients=(patient,))
            )
        busy = 0.6 + 0.8 * math.sin(math.pi * min(1.0, t / duration_s))
        t += max(8.0, rng.expovariate(busy / 30.0)) / pace
    cred = Credential(sub, "user/*.rs", f"Practitioner/{practitioner}", "TREAT")
    return Actor(sub, CLINICIAN, cred, tuple(steps), f"clinician {practitioner}, own care team")


def _integration(
    world: World, rng: random.Random, number: int, duration_s: float, pace: float
) -> Actor:
    sub = f"lab-feed-{number}"
    panel = rng.sample(world.plain(), 30)
    steps = []
    t = rng.uniform(0.0, 6.0)
    while t < duration_s:
        patient = rng.choice(panel)
        path = f"/fhir/Observation?patient={patient}&category=laboratory&_count=10&_sort=-date"
        steps.append(Step(t, path, patients=(patient,)))
        t += rng.uniform(4.0, 8.0) / pace
    story = "integration client polling lab results of a 30-patient panel"
    return Actor(sub, INTEGRATION, Credential(sub, "system/Observation.rs"), tuple(steps), story)


def _offset(rng: random.Random, duration_s: float, length_s: float) -> float:
    return rng.uniform(2.0, max(2.0, duration_s - length_s - 2.0))


def _pick_glass_snooper(world: World, rng: random.Random, vip: str, used: set[str]) -> str:
    candidates = [
        p
        for p in sorted(world.practitioner_family)
        if p not in used
        and not world.on_team(p, vip)
        and world.practitioner_family[p] != world.patient_family[vip]
    ]
    return rng.choice(candidates) if candidates else ""


def _same_surname_pairs(world: World) -> list[tuple[str, str]]:
    plain = set(world.plain())
    return [
        (prac, patient)
        for prac, family in sorted(world.practitioner_family.items())
        for patient, pfamily in sorted(world.patient_family.items())
        if family and family == pfamily and patient in plain and not world.on_team(prac, patient)
    ]


def _misuser(
    cred: Credential, steps: Sequence[Step], story: str, triggers: Mapping[str, int]
) -> Actor:
    """A labelled misuser: `triggers` maps each expected kind to the step completing it."""
    return Actor(
        cred.sub, MISUSE, cred, tuple(steps), story, tuple(triggers), tuple(triggers.items())
    )


def _lookups(t: float, targets: Sequence[str], gap_s: float = 1.5) -> list[Step]:
    return [_read(p, t + i * gap_s) for i, p in enumerate(targets)]


def _vip_glass(world: World, rng: random.Random, at: float, vip: str, used: set[str]) -> Actor:
    """1a. A clinician off the VIP's care team breaks the glass to read the VIP's record."""
    glass = _pick_glass_snooper(world, rng, vip, used)
    if not glass:
        raise ValueError("no practitioner outside the VIP's care team")
    search = Step(at + 1.0, f"/fhir/Observation?patient={vip}&_count=10", patients=(vip,))
    cred = Credential(f"snoop-{glass}", "user/*.rs", f"Practitioner/{glass}", "ETREAT")
    story = f"break-glass read of VIP {vip}"
    return _misuser(cred, [_read(vip, at), search], story, {"vip_access": 0, "break_glass": 0})


def _desk_lookup(sub: str, at: float, cover: Sequence[str], target: str, kind: str) -> Actor:
    """1b/2. A desk account (system scope, no care relationship) reads a flagged record
    between two ordinary ones."""
    steps = _lookups(at, [cover[0], target, cover[1]])
    return _misuser(
        Credential(sub, "system/Patient.rs"),
        steps,
        f"desk account reads flagged {target}",
        {kind: 1},
    )


def _namesake(world: World, at: float, practitioner: str, relative: str) -> Actor:
    """3. A practitioner's admin-tool login (system scope with fhirUser) reads a namesake."""
    search = Step(at + 1.0, f"/fhir/Observation?patient={relative}&_count=5", patients=(relative,))
    cred = Credential(
        f"lookup-{practitioner}",
        "system/Patient.rs system/Observation.rs",
        f"Practitioner/{practitioner}",
    )
    story = f"{practitioner} reads namesake {relative} ({world.patient_family[relative]})"
    return _misuser(cred, [_read(relative, at), search], story, {"same_surname": 0})


def _scrape(
    sub: str, targets: Sequence[str], at: float, interval: float, config: DetectionConfig
) -> Actor:
    """4/5. Reads of distinct patients, evenly paced; labelled at the step the bulk rule's
    first floor is reached (as the rule would count the plan)."""
    steps = [_read(p, at + i * interval) for i, p in enumerate(targets)]
    first, _ = bulk_profile(steps, config)
    if first is None:
        raise ValueError(f"{sub} would reach no bulk floor: widen the run or lower the floors")
    story = f"{len(targets)} patients, {60.0 / interval:.0f}/min"
    return _misuser(Credential(sub, "system/Patient.rs"), steps, story, {KIND_BULK: first})


def _denials(sub: str, steps: Sequence[Step], story: str, config: DetectionConfig) -> Actor:
    """6/7. A run of denied requests, labelled with the window kinds it reaches: a
    `denied_burst` (any denial) and `enumeration` (404 misses of id reads)."""
    found = {
        "denied_burst": _denial_trigger(steps, config),
        "enumeration": _enumeration_trigger(steps, config),
    }
    triggers = {kind: i for kind, i in found.items() if i is not None}
    return _misuser(Credential(sub, "system/Patient.rs"), steps, story, triggers)


def _misusers(
    world: World, rng: random.Random, duration_s: float, config: DetectionConfig
) -> list[Actor]:
    vips, staff = world.flagged(VIP), [p for p in world.flagged(STAFF) if p not in world.restricted]
    pairs = _same_surname_pairs(world)
    if not vips or not staff or not pairs:
        raise ValueError("the data set needs a VIP, a staff patient and a same-surname pair")
    plain = world.plain()
    namesake_prac, relative = rng.choice(pairs)
    actors = [
        _vip_glass(world, rng, _offset(rng, duration_s, 2.0), vips[0], {namesake_prac}),
        _desk_lookup(
            "registration-desk-3",
            _offset(rng, duration_s, 3.0),
            rng.sample(plain, 2),
            vips[-1],
            "vip_access",
        ),
        _desk_lookup(
            "front-desk-2",
            _offset(rng, duration_s, 3.0),
            rng.sample(plain, 2),
            staff[0],
            "staff_record_access",
        ),
        _namesake(world, _offset(rng, duration_s, 1.0), namesake_prac, relative),
    ]
    # 4. Bulk scrape: 3x the 1-minute floor of distinct patients within 40 s.
    count = min(3 * config.bulk_spike_floor_1m, len(plain))
    actors.append(
        _scrape(
            "scraper-fast",
            rng.sample(plain, count),
            _offset(rng, duration_s, 40.0),
            40.0 / count,
            config,
        )
    )
    # 5. Slow scrape: 90 % of the 1-minute floor a minute, until past the 5-minute floor.
    interval = 60.0 / max(1, config.bulk_spike_floor_1m * 9 // 10)
    count = min(config.bulk_spike_floor_5m + 5, len(plain))
    actors.append(
        _scrape(
            "scraper-slow",
            rng.sample(plain, count),
            _offset(rng, duration_s, count * interval),
            interval,
            config,
        )
    )
    # 6. Id enumeration: 2 reads a second of ids that do not exist.
    count = max(40, config.enumeration_not_found_floor_5m + 10)
    at, first_id = _offset(rng, duration_s, count / 2.0), rng.randint(90_000, 99_999 - count)
    probes = [
        Step(at + i * 0.5, f"/fhir/Patient/pat-{first_id + i}", outcome=MISSING)
        for i in range(count)
    ]
    actors.append(_denials("enumerator", probes, f"{count} reads of absent ids", config))
    # 7. Scope probing: 2 searches a second of types the token holds no scope for.
    count = max(25, config.denied_burst_floor_1m + 5)
    at = _offset(rng, duration_s, count / 2.0)
    probes = [
        Step(at + i * 0.5, f"/fhir/{PROBED[i % len(PROBED)]}?_count=5", outcome=DENIED)
        for i in range(count)
    ]
    actors.append(_denials("scope-prober", probes, f"{count} searches without scope", config))
    # 8. Export abuse: a bulk export kick-off of every patient.
    headers = (("Prefer", "respond-async"), ("Accept", "application/fhir+json"))
    kickoff = Step(_offset(rng, duration_s, 1.0), "/fhir/Patient/$export", headers=headers)
    cred = Credential("exporter", "system/Patient.rs export")
    actors.append(_misuser(cred, [kickoff], "bulk $export kick-off", {"export": 0}))
    return actors


def _check_normal(actor: Actor, config: DetectionConfig) -> None:
    _, peak = bulk_profile(actor.steps, config)
    limits = {
        "1m": config.bulk_spike_floor_1m,
        "5m": config.bulk_spike_floor_5m,
        "1h": config.bulk_spike_floor_1h,
    }
    over = {w: n for w, n in peak.items() if n >= limits[w]}
    if over or any(s.outcome != OK for s in actor.steps):
        raise ValueError(f"normal principal {actor.principal} would cross a floor: {over}")


def build_scenario(
    world: World,
    seed: int = 7,
    minutes: float = 4.0,
    config: DetectionConfig | None = None,
    clinicians: int | None = None,
    integrations: int = 4,
    pace: float = 1.0,
) -> Scenario:
    """The plan: normal clinicians and integration clients over `minutes`, with the eight
    labelled misusers at seeded offsets (long ones may run past `minutes`). `pace` scales
    normal traffic (2.0 = twice the requests). Pure: same arguments, same plan."""
    config = config or DetectionConfig()
    rng = random.Random(seed)
    duration_s = minutes * 60.0
    misusers = _misusers(world, rng, duration_s, config)
    reserved = {a.credential.fhir_user.split("/")[-1] for a in misusers if a.credential.fhir_user}
    pool = [p for p in sorted(world.practitioner_family) if p not in reserved]
    pool = pool[: clinicians if clinicians is not None else len(pool)]
    normal = [_clinician(world, rng, p, duration_s, pace) for p in pool]
    normal += [_integration(world, rng, n, duration_s, pace) for n in range(1, integrations + 1)]
    for actor in normal:
        _check_normal(actor, config)
    return Scenario(seed, minutes, config, (*normal, *misusers))


# --------------------------------------------------------------------------- the runner


Minter = Callable[[Credential], str]


@dataclass
class Response:
    index: int
    status: int
    sent_at: float
    done_at: float
    request_id: str


@dataclass
class RunResult:
    responses: dict[str, list[Response]]  # principal -> responses in step order
    alerts: list[dict[str, Any]]  # every alert, as /audit/alerts returns it
    first_seen: dict[tuple[str, str], float]  # (principal, kind) -> wall time first visible
    started_at: float
    traffic_s: float
    poll_s: float
    errors: list[str] = field(default_factory=list)

    def unexpected(self, scenario: Scenario) -> list[str]:
        """Steps whose status did not match the planned outcome."""
        wanted = {OK: range(200, 300), DENIED: (403,), MISSING: (404,)}
        out = []
        for actor in scenario.actors:
            for r in self.responses.get(actor.principal, []):
                step = actor.steps[r.index]
                if r.status not in wanted[step.outcome]:
                    out.append(f"{actor.principal} {step.path}: {r.status}")
        return out


def _play(
    actor: Actor, base_url: str, token: str, start: float, sink: list[Response], errors: list[str]
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
        for index, step in enumerate(actor.steps):
            delay = start + step.at_s - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.time()
            try:
                r = http.get(step.path, headers=dict(step.headers))
            except httpx.HTTPError as exc:
                errors.append(f"{actor.principal} {step.path}: {exc!r}")
                continue
            rid = r.headers.get("x-request-id", "")
            sink.append(Response(index, r.status_code, sent, time.time(), rid))


def read_alerts(http: httpx.Client, max_pages: int = 50) -> list[dict[str, Any]]:
    """Every alert, following `next` links."""
    alerts: list[dict[str, Any]] = []
    url: str | None = "/audit/alerts?_count=1000"
    for _ in range(max_pages):
        if not url:
            break
        response = http.get(url)
        response.raise_for_status()
        body = response.json()
        alerts.extend(body["alerts"])
        url = body.get("next")
    return alerts


def _poll(
    http: httpx.Client, seen: dict[tuple[str, str], float], stop: threading.Event, every_s: float
) -> None:
    while not stop.is_set():
        try:
            body = http.get("/audit/alerts?_count=1000").json()
            now = time.time()
            for alert in body.get("alerts", []):
                seen.setdefault((alert["principal"], alert["kind"]), now)
        except (httpx.HTTPError, ValueError):
            pass
        stop.wait(every_s)


def run_scenario(
    scenario: Scenario,
    base_url: str,
    mint: Minter,
    auditor_token: str,
    poll_s: float = 0.1,
    wait_s: float = 15.0,
    settle_s: float = 15.0,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Replay the plan over HTTP (a thread per actor, one shared clock). After the traffic,
    wait until every labelled pair has an alert (at most `wait_s`) and then `settle_s` more
    for the detector to catch up on the tail, then read every alert."""
    say = log or (lambda _text: None)
    tokens = {a.principal: mint(a.credential) for a in scenario.actors}
    responses: dict[str, list[Response]] = {a.principal: [] for a in scenario.actors}
    errors: list[str] = []
    seen: dict[tuple[str, str], float] = {}
    auditor = httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {auditor_token}"}
    )
    poller_http = httpx.Client(base_url=base_url, timeout=30, headers=auditor.headers)
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(poller_http, seen, stop, poll_s), daemon=True)
    start = time.time() + 1.0
    threads = [
        threading.Thread(
            target=_play,
            args=(a, base_url, tokens[a.principal], start, responses[a.principal], errors),
            daemon=True,
        )
        for a in scenario.actors
    ]
    say(
        f"replaying {scenario.requests} requests of {len(threads)} principals "
        f"over {scenario.end_s:.0f} s"
    )
    poller.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    traffic_s = time.time() - start
    say(f"traffic done in {traffic_s:.1f} s; waiting for the detector")
    deadline = time.time() + wait_s
    while time.time() < deadline and not scenario.labels <= set(seen):
        time.sleep(0.1)
    time.sleep(settle_s)
    stop.set()
    poller.join()
    alerts = read_alerts(auditor)
    auditor.close()
    poller_http.close()
    return RunResult(responses, alerts, seen, start, traffic_s, poll_s, errors)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class KindScore:
    kind: str
    injected: int  # labelled (principal, kind) pairs
    alerted: int  # alerts of the kind, on anyone
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / self.alerted if self.alerted else None

    @property
    def recall(self) -> float | None:
        return (self.injected - self.fn) / self.injected if self.injected else None


@dataclass(frozen=True)
class Score:
    kinds: tuple[KindScore, ...]
    missed: tuple[tuple[str, str], ...]  # labelled pairs without an alert
    false_alarms: tuple[Mapping[str, Any], ...]  # alerts not matching a label
    normal_principals: int
    normal_alerts: int  # alerts on normal principals
    normal_alerted_principals: int


def score(scenario: Scenario, alerts: Sequence[Mapping[str, Any]]) -> Score:
    labels = scenario.labels
    normal = {a.principal for a in scenario.normal}
    alerted_pairs = {(a["principal"], a["kind"]) for a in alerts}
    kinds = sorted({*KINDS, *(a["kind"] for a in alerts)}, key=_kind_order)
    rows = []
    for kind in kinds:
        injected = [p for p in labels if p[1] == kind]
        of_kind = [a for a in alerts if a["kind"] == kind]
        tp = sum(1 for a in of_kind if (a["principal"], kind) in labels)
        fn = sum(1 for p in injected if p not in alerted_pairs)
        rows.append(KindScore(kind, len(injected), len(of_kind), tp, len(of_kind) - tp, fn))
    on_normal = [a for a in alerts if a["principal"] in normal]
    return Score(
        kinds=tuple(rows),
        missed=tuple(sorted(p for p in labels if p not in alerted_pairs)),
        false_alarms=tuple(a for a in alerts if (a["principal"], a["kind"]) not in labels),
        normal_principals=len(normal),
        normal_alerts=len(on_normal),
        normal_alerted_principals=len({a["principal"] for a in on_normal}),
    )


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def latencies(scenario: Scenario, result: RunResult) -> list[tuple[str, str, float]]:
    """(principal, kind, seconds from the response completing the trigger to the alert
    being visible) for each labelled pair that was alerted."""
    out = []
    for actor in scenario.misusers:
        done = {r.index: r.done_at for r in result.responses.get(actor.principal, [])}
        for kind in actor.expected:
            index, seen = actor.trigger_step(kind), result.first_seen.get((actor.principal, kind))
            if index is not None and index in done and seen is not None:
                out.append((actor.principal, kind, seen - done[index]))
    return out


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _why(scenario: Scenario, world: World | None, alert: Mapping[str, Any]) -> str:
    actor = scenario.actor(alert["principal"])
    if actor is None:
        return "not a scenario principal"
    if alert["kind"] == "same_surname" and actor.role == CLINICIAN and world is not None:
        prac = actor.credential.fhir_user.split("/")[-1]
        family = world.practitioner_family.get(prac, "")
        mine = [p for p in world.care_teams.get(prac, ()) if world.patient_family[p] == family]
        if mine:
            names = ", ".join(mine)
            return f"namesake on own care team ({names}); the rule has no care-team exemption"
    return actor.story


def report(
    scenario: Scenario, result: RunResult, world: World | None = None, goal_latency_s: float = 5.0
) -> str:
    s = score(scenario, result.alerts)
    lines = [
        f"scenario: seed {scenario.seed}, {scenario.minutes:g} min; "
        f"{len(scenario.normal)} normal principals "
        f"({sum(a.role == CLINICIAN for a in scenario.normal)} clinicians, "
        f"{sum(a.role == INTEGRATION for a in scenario.normal)} integration clients), "
        f"{len(scenario.misusers)} misusers; {scenario.requests} requests, "
        f"traffic {result.traffic_s:.0f} s",
        "",
        f"{'kind':<20} {'injected':>8} {'alerted':>7} {'TP':>4} {'FP':>4} {'FN':>4} "
        f"{'precision':>9} {'recall':>6}",
    ]
    for k in s.kinds:
        lines.append(
            f"{k.kind:<20} {k.injected:>8} {k.alerted:>7} {k.tp:>4} {k.fp:>4} {k.fn:>4} "
            f"{_ratio(k.precision):>9} {_ratio(k.recall):>6}"
        )
    total_alerts = sum(k.alerted for k in s.kinds)
    total_tp = sum(k.tp for k in s.kinds)
    overall = total_tp / total_alerts if total_alerts else None
    lines += [
        f"{'all':<20} {len(scenario.labels):>8} {total_alerts:>7} {total_tp:>4} "
        f"{total_alerts - total_tp:>4} {len(s.missed):>4} {_ratio(overall):>9} "
        f"{_ratio(1 - len(s.missed) / len(scenario.labels) if scenario.labels else None):>6}",
        "",
        f"normal traffic: {s.normal_alerts} alerts on {s.normal_principals} normal principals "
        f"(false-positive rate {s.normal_alerts / max(1, s.normal_principals):.2f} per principal; "
        f"{s.normal_alerted_principals} principals alerted)",
    ]
    for alert in s.false_alarms:
        lines.append(f"  FP {alert['kind']} {alert['principal']}: {_why(scenario, world, alert)}")
    for principal, kind in s.missed:
        lines.append(f"  FN {kind} {principal}")
    slow = [a for a in result.alerts if a["principal"] == "scraper-slow"]
    for alert in slow:
        peak = alert["counts"].get("distinct_patients_1m")
        lines.append(f"  slow scrape caught: {alert['summary']}; at most {peak} in any minute")
    lat = latencies(scenario, result)
    values = [v for _, _, v in lat]
    if values:
        lines += [
            "",
            f"alert latency (trigger response -> visible in /audit/alerts, polled every "
            f"{result.poll_s * 1000:.0f} ms): n={len(values)}, "
            f"p50 {percentile(values, 0.5):.2f} s, p99 {percentile(values, 0.99):.2f} s, "
            f"max {max(values):.2f} s",
        ]
        for principal, kind, value in sorted(lat, key=lambda x: _kind_order(x[1])):
            lines.append(f"  {kind:<20} {principal:<24} {value:6.2f} s")
    unexpected = result.unexpected(scenario)
    if unexpected or result.errors:
        lines.append(
            f"unexpected statuses: {len(unexpected)}, transport errors: {len(result.errors)}"
        )
        lines += [f"  {u}" for u in (unexpected + result.errors)[:10]]
    low = [k.kind for k in s.kinds if k.precision is not None and k.precision < 0.9]
    p99 = percentile(values, 0.99) if values else math.inf
    lines += [
        "",
        "goal: recall 1.0 on the injected scenarios: "
        + ("PASS" if not s.missed else f"FAIL (missed {len(s.missed)})"),
        "goal: precision >= 0.9 per kind: " + ("PASS" if not low else f"FAIL ({', '.join(low)})"),
        f"goal: alert latency p99 < {goal_latency_s:g} s: "
        + ("PASS" if p99 < goal_latency_s else f"FAIL ({p99:.2f} s)"),
        "not replayed here (bench.misuse replays them over a week): "
        + "; ".join(f"{k} ({why})" for k, why in NOT_REPLAYED.items()),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    from api.access.devissuer import mint_token
    from api.boot.runtime import DEMO_PATIENTS, DEMO_SEED
    from api.data.synthetic.dataset import generate_dataset
    from api.settings import Settings
    from bench.harness import start_server, stop_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pace", type=float, default=1.0, help="scale normal traffic")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    port = args.port or _free_port()
    data = Path(tempfile.mkdtemp(prefix="fhir-evidence-scenario-")) / "data"
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=data, base_url=base)
    config = DetectionConfig.from_mapping(settings.detection)
    world = world_from_dataset(generate_dataset(DEMO_PATIENTS, DEMO_SEED))
    plan = build_scenario(world, args.seed, args.minutes, config, pace=args.pace)
    server = start_server(["-m", "api.boot.cli", "serve"], data, port)
    ttl = int(plan.end_s) + 600

    def mint(cred: Credential) -> str:
        return mint_token(
            settings,
            cred.sub,
            cred.scope,
            ttl_s=ttl,
            fhir_user=cred.fhir_user,
            purpose=cred.purpose,
        )

    try:
        auditor = mint_token(settings, "scenario-auditor", "system/AuditEvent.rs", ttl_s=ttl)
        result = run_scenario(plan, base, mint, auditor, log=print)
    finally:
        stop_server(server)
    print(report(plan, result, world))


if __name__ == "__main__":
    main()
