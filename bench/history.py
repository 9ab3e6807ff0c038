"""Synthetic, labelled access history for `fhir-evidence replay` (NDJSON of raw events).

`.venv/bin/python -m bench.history OUT.ndjson [--days 9] [--seed 7]` writes it; `generate`
is the pure part (deterministic for a seed and a start). The history:

- normal traffic every day: clinicians reading their own care-team panel 08:00-17:00 UTC
  (`careteam.member`), now and then a search naming one patient outside their reach; a
  records office (a person with `system/` scopes: every access unexplained, a few an
  hour, 09:00-16:00); integration feeds (`system.access`, no person) around the clock;
  patients' apps reading their own record (`compartment.patient`) at any hour;
- on the last day, misuse labelled with the alert kinds it must raise:
  `after_hours` (a clinician with a week of office hours reading its panel at 02:30),
  `dormant_principal` (a clinician and a feed whose last activity was 35-40 days before
  the week, then used again: a compromised token), `unexplained_access` (slow snoopers
  of the records office, one with a week of history and one new: 30 unrelated patients
  in 150 s) and `search_probing` (patients' apps searching 40 other patients'
  Observations, every answer an empty searchset).

`Labelled.allowed` names kinds an alert on that misuser may also have without counting
as a false positive (a snooper is misuse whichever rule catches it).
"""

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from evidence.core import AccessEvent, Decision, event_to_dict

HOUR_US, DAY_US, SECOND_US = 3_600_000_000, 86_400_000_000, 1_000_000
START_US = 1_793_836_800_000_000  # 2026-11-05T00:00:00Z, a midnight
PATIENTS = 2000
AFTER_HOURS, DORMANT = "after_hours", "dormant_principal"
UNEXPLAINED, PROBING = "unexplained_access", "search_probing"
NEW_KINDS = (AFTER_HOURS, DORMANT, UNEXPLAINED, PROBING)


@dataclass
class Labelled:
    events: list[AccessEvent] = field(default_factory=list)
    labels: dict[str, set[str]] = field(default_factory=dict)  # misuser -> kinds it must raise
    allowed: dict[str, set[str]] = field(default_factory=dict)  # misuser -> kinds it may raise
    misuse_from_us: dict[tuple[str, str], int] = field(default_factory=dict)  # first misuse

    def label(self, principal: str, kind: str, from_us: int, *also: str) -> None:
        self.labels.setdefault(principal, set()).add(kind)
        self.allowed.setdefault(principal, set()).update(also)
        key = (principal, kind)
        self.misuse_from_us[key] = min(from_us, self.misuse_from_us.get(key, from_us))


@dataclass
class _Ids:
    n: int = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.n:032x}"


def _patient(n: int) -> str:
    return f"pat-{n % PATIENTS:05d}"


@dataclass(frozen=True)
class Who:
    sub: str
    client: str
    fhir_user: str
    scopes: tuple[str, ...]
    patient: str = ""


def _event(ids: _Ids, who: Who, ts_us: int, patient: str, reasons: tuple[str, ...],
           *, search: bool = False, probed: str = "") -> AccessEvent:  # fmt: skip
    event_id = ids.next()
    rtype = "Observation" if search else "Patient"
    return AccessEvent(
        event_id=event_id, request_id=f"r{event_id[1:]}", trace_id=f"t{event_id[1:]}",
        ts_us=ts_us, method="GET",
        route=f"/fhir/{rtype}" if search else "/fhir/{resource_type}/{resource_id}",
        action="search" if search else "read", resource_type=rtype,
        decision=Decision.PARTIAL if probed else Decision.ALLOW, status=200,
        reasons=("scope.granted", *reasons), sub=who.sub, client_id=who.client,
        issuer="https://issuer.example", token_model="jwt", fhir_user=who.fhir_user,
        context_patient_id=who.patient, purpose_of_use="TREAT" if who.fhir_user else "",
        scopes_granted=who.scopes, scopes_used=who.scopes[:1],
        patient_ids=() if probed else (patient,),
        resource_ids=() if probed else (f"{rtype}/{patient}",),
        query_params=("patient",) if search else (), count_returned=0 if probed else 1,
        probed_patient_ids=(probed,) if probed else (),
    )  # fmt: skip


def _clinician(n: int) -> Who:
    scopes = ("user/Patient.rs", "user/Observation.rs", "openid", "fhirUser")
    return Who(f"dr-{n:03d}", "ehr", f"Practitioner/prac-{n:03d}", scopes)


def _clerk(name: str) -> Who:
    return Who(name, "records-desk", f"Practitioner/{name}", ("system/Patient.rs", "openid"))


def _feed(name: str) -> Who:
    return Who("", name, "", ("system/Observation.rs", "system/Patient.rs"))


def _patient_app(n: int) -> Who:
    return Who(f"person-{n:04d}", "patient-portal", f"Patient/{_patient(n * 7)}",
               ("patient/Observation.rs", "patient/Patient.rs"), _patient(n * 7))  # fmt: skip


def _times(rng: random.Random, day_us: int, hours: tuple[int, int], count: int) -> list[int]:
    low, high = day_us + hours[0] * HOUR_US, day_us + hours[1] * HOUR_US
    return sorted(rng.randrange(low, high) for _ in range(count))


def _clinician_day(ids: _Ids, rng: random.Random, who: Who, panel: list[str], day_us: int,
                   per_day: int) -> Iterator[AccessEvent]:  # fmt: skip
    for ts in _times(rng, day_us, (8, 17), per_day):
        if rng.random() < 0.01:  # a mistyped patient id in a search: one probe, no pattern
            yield _event(ids, who, ts, "", ("search.patient_outside_reach",), search=True,
                         probed=_patient(rng.randrange(PATIENTS)))  # fmt: skip
        else:
            yield _event(ids, who, ts, rng.choice(panel), ("careteam.member",))


def _normal_day(ids: _Ids, rng: random.Random, day: int, crowd: "_Crowd") -> list[AccessEvent]:
    day_us, out = START_US + day * DAY_US, list[AccessEvent]()
    for who, panel in crowd.clinicians:
        out += _clinician_day(ids, rng, who, panel, day_us, crowd.per_day)
    for who in crowd.clerks:
        for ts in _times(rng, day_us, (9, 16), 14):
            out.append(_event(ids, who, ts, _patient(rng.randrange(PATIENTS)), ()))
    for who in crowd.feeds:
        for ts in _times(rng, day_us, (0, 24), 96):
            out.append(_event(ids, who, ts, _patient(rng.randrange(200)), ("system.access",)))
    for who in crowd.apps:
        for ts in _times(rng, day_us, (0, 24), 2):
            out.append(_event(ids, who, ts, who.patient, ("compartment.patient",)))
    return out


@dataclass
class _Crowd:
    clinicians: list[tuple[Who, list[str]]]
    clerks: list[Who]
    feeds: list[Who]
    apps: list[Who]
    per_day: int


def _crowd(rng: random.Random, clinicians: int, clerks: int, apps: int, per_day: int) -> _Crowd:
    return _Crowd(
        [(_clinician(n), [_patient(rng.randrange(PATIENTS)) for _ in range(15)])
         for n in range(clinicians)],
        [_clerk(f"clerk-{n:02d}") for n in range(clerks)],
        [_feed("lab-feed"), _feed("billing-feed")],
        [_patient_app(n) for n in range(apps)],
        per_day,
    )  # fmt: skip


def generate(seed: int = 7, days: int = 9, clinicians: int = 30, clerks: int = 5,
             apps: int = 20, per_day: int = 30) -> Labelled:  # fmt: skip
    """`days` of normal traffic (at least 9: after_hours needs a week of history) with the
    labelled misuse on the last one; events in time order."""
    rng, ids, out = random.Random(seed), _Ids(), Labelled()
    crowd = _crowd(rng, clinicians, clerks, apps, per_day)
    last_us = START_US + (days - 1) * DAY_US
    for day in range(days):
        out.events += _normal_day(ids, rng, day, crowd)
    out.events += _dormant(ids, rng, crowd, last_us, out)
    out.events += _after_hours(ids, rng, crowd, last_us, out)
    out.events += _snoopers(ids, rng, crowd, last_us, out)
    out.events += _probers(ids, rng, crowd, last_us, out)
    out.events.sort(key=lambda e: e.ts_us)
    return out


def _dormant(ids: _Ids, rng: random.Random, crowd: _Crowd, last_us: int,
             out: Labelled) -> list[AccessEvent]:  # fmt: skip
    away, panel = _clinician(900), [_patient(rng.randrange(PATIENTS)) for _ in range(15)]
    old_feed = _feed("old-interface")
    events = [_event(ids, away, START_US - 35 * DAY_US + k * 600 * SECOND_US, panel[k % 15],
                     ("careteam.member",)) for k in range(20)]  # fmt: skip
    events += [_event(ids, old_feed, START_US - 40 * DAY_US + k * 60 * SECOND_US,
                      _patient(k), ("system.access",)) for k in range(10)]  # fmt: skip
    back_us = last_us + 10 * HOUR_US
    events += [_event(ids, away, back_us + k * 20 * SECOND_US, panel[k], ("careteam.member",))
               for k in range(8)]  # fmt: skip
    feed_back_us = last_us + 3 * HOUR_US
    events += [_event(ids, old_feed, feed_back_us + k * SECOND_US, _patient(k),
                      ("system.access",)) for k in range(5)]  # fmt: skip
    out.label(away.sub, DORMANT, back_us)
    out.label(f"client:{old_feed.client}", DORMANT, feed_back_us, AFTER_HOURS)
    return events


def _after_hours(ids: _Ids, rng: random.Random, crowd: _Crowd, last_us: int,
                 out: Labelled) -> list[AccessEvent]:  # fmt: skip
    who, panel = crowd.clinicians[0]
    night_us = last_us + 2 * HOUR_US + 30 * 60 * SECOND_US
    out.label(who.sub, AFTER_HOURS, night_us)
    return [_event(ids, who, night_us + k * 40 * SECOND_US, panel[k], ("careteam.member",))
            for k in range(3)]  # fmt: skip


def _snoopers(ids: _Ids, rng: random.Random, crowd: _Crowd, last_us: int,
              out: Labelled) -> list[AccessEvent]:  # fmt: skip
    events = []
    for who, at_h in ((crowd.clerks[0], 11), (_clerk("clerk-new"), 14)):
        from_us = last_us + at_h * HOUR_US + 17 * 60 * SECOND_US
        out.label(who.sub, UNEXPLAINED, from_us, "bulk_access_spike")
        targets = rng.sample(range(PATIENTS), 30)
        events += [_event(ids, who, from_us + k * 5 * SECOND_US, _patient(t), ())
                   for k, t in enumerate(targets)]  # fmt: skip
    return events


def _probers(ids: _Ids, rng: random.Random, crowd: _Crowd, last_us: int,
             out: Labelled) -> list[AccessEvent]:  # fmt: skip
    events = []
    for who, at_h in ((crowd.apps[0], 13), (_patient_app(999), 20)):
        from_us = last_us + at_h * HOUR_US + 5 * 60 * SECOND_US
        out.label(who.sub, PROBING, from_us)
        for k, target in enumerate(rng.sample(range(PATIENTS), 40)):
            events.append(_event(ids, who, from_us + k * 4 * SECOND_US, "",
                                 ("search.patient_outside_reach",), search=True,
                                 probed=_patient(target)))  # fmt: skip
    return events


def write_ndjson(events: list[AccessEvent], path: Path) -> None:
    with path.open("wb") as handle:
        for event in events:
            handle.write(orjson.dumps(event_to_dict(event)) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    history = generate(args.seed, args.days)
    write_ndjson(history.events, args.out)
    print(f"{len(history.events)} events, misusers: "
          + ", ".join(f"{p} {sorted(k)}" for p, k in sorted(history.labels.items())))  # fmt: skip


if __name__ == "__main__":
    main()
