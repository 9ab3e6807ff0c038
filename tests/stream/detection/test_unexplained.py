"""unexplained_access, search_probing, decay and peer groups: the slow snooper caught from
its first hour, explained accesses never counted, batches equal to one event at a time,
decay monotone, probes raising their own kind, every alert explaining itself."""

import json
import random
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.detection import (
    Alert,
    DetectionConfig,
    DetectionEngine,
    DetectionEvent,
    advance,
    alert_from_dict,
    alert_to_dict,
    compact,
    engine_state_from_dict,
    engine_state_to_dict,
)
from stream.detection.baseline import Stats
from stream.detection.decay import Decayed, add, value_at
from stream.detection.explained import explanation, unexplained
from stream.detection.peers import pool
from stream.detection.probing import SearchProbing
from stream.detection.unexplained import UnexplainedAccess
from tests.stream.detection.support import CARE, HOUR, T0, S, event, pseudo

KIND, PROBING = "unexplained_access", "search_probing"
SYSTEM = ("scope.granted", "system.access")
ADMIN: dict[str, Any] = {
    "reasons": SYSTEM,
    "actor_type": "Practitioner",
    "peer_group": "system:Practitioner@adm",
}
ONLY = (UnexplainedAccess(), SearchProbing())
CONFIG = DetectionConfig()

# Every way an access can be granted, and whether that explains it.
GRANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "care_team": ({"reasons": CARE}, True),
    "own_compartment": ({"reasons": ("scope.granted", "compartment.patient")}, True),
    "integration": ({"reasons": SYSTEM}, True),
    "person_on_system_scope": (ADMIN, False),
    "break_glass": ({"reasons": ("scope.granted", "break_glass")}, False),
    "break_glass_on_team": ({"reasons": (*CARE, "break_glass")}, False),
    "nothing_recorded": ({"reasons": ("scope.granted",)}, False),
}


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


def run(
    events: list[DetectionEvent], engine: DetectionEngine | None = None
) -> tuple[DetectionEngine, list[Alert]]:
    engine = engine or DetectionEngine()
    return engine, advance(engine, events, CONFIG, ONLY)


def reload(engine: DetectionEngine) -> DetectionEngine:
    saved = json.loads(json.dumps(engine_state_to_dict(engine, ONLY)))
    return engine_state_from_dict(saved, ONLY)


def test_slow_snooper_is_caught_in_its_first_hour_and_explains_itself() -> None:
    """30 unrelated patients in 150 s: under every bulk floor, no history, no peers."""
    snooping = [event(i, T0 + i * 5 * S, **ADMIN) for i in range(30)]
    assert run(snooping[:9])[1] == []  # below the floor: nothing
    assert kinds(run(snooping[:10])[1]) == [KIND]  # the 10th patient, 45 s in
    [final] = run(snooping)[1]  # one alert, updated as the snooping goes on
    assert final.request_ids == tuple(f"req-{i:06d}" for i in range(30))
    assert final.count("unexplained_patients") == 29 and final.count("threshold") == 10  # decayed
    why = dict(final.explanation)
    assert why["rule"] == KIND and why["baseline"] == "default floor"
    assert why["peer_group"] == "system:Practitioner@adm"
    assert alert_from_dict(json.loads(json.dumps(alert_to_dict(final)))) == final


@pytest.mark.parametrize("grant", sorted(GRANTS))
def test_what_explains_an_access(grant: str) -> None:
    overrides, explained = GRANTS[grant]
    access = event(1, T0, **overrides)
    assert bool(explanation(access)) is explained and unexplained(access) is not explained
    empty = event(2, T0, count_returned=0, **overrides)  # nothing handed out: no access
    assert not unexplained(empty)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(GRANTS)),
            st.integers(0, 3 * HOUR // S),
            st.integers(0, 40),
        ),
        max_size=60,
    ),
    st.randoms(use_true_random=False),
)
def test_batch_equals_one_at_a_time_and_explained_never_count(
    plan: list[tuple[str, int, int]], rng: random.Random
) -> None:
    events = [
        event(n, T0 + at * S, patient_hashes=(pseudo(f"p{p}"),), **GRANTS[g][0])
        for n, (g, at, p) in enumerate(sorted(plan, key=lambda item: item[1]))
    ]
    whole, alerts = run(events)
    single = DetectionEngine()
    for item in events:
        advance(single, [item], CONFIG, ONLY)
    assert engine_state_to_dict(single, ONLY) == engine_state_to_dict(whole, ONLY)
    # explained accesses never enter the tally: the same state without them
    bare, _ = run([e for e in events if unexplained(e) or explanation(e) == ""])
    unexplained_only = [e for e in events if unexplained(e)]
    tallies = {k: s[KIND].tally for k, s in whole.principals.items() if KIND in s}
    assert sum(len(t.last) for t in tallies.values()) == len(
        {p for e in unexplained_only for p in e.patient_hashes}
    )
    assert {a.kind for a in alerts} <= {KIND}
    assert all(set(a.request_ids) <= {e.request_id for e in unexplained_only} for a in alerts)
    # order within one clock hour is irrelevant (up to float rounding)
    hour = [e for e in events if e.ts_us < T0 + HOUR]
    shuffled = hour[:]
    rng.shuffle(shuffled)
    a, _ = run(hour)
    b, _ = run(shuffled)
    for key, state in a.principals.items():
        if KIND in state:
            mine, theirs = state[KIND].tally, b.principals[key][KIND].tally
            assert mine.last == theirs.last and mine.at_us == theirs.at_us
            assert mine.breadth == pytest.approx(theirs.breadth)
            assert mine.count == pytest.approx(theirs.count)
    assert bare is not None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 20)), max_size=30),
    st.lists(st.integers(0, 50_000), min_size=2, max_size=6),
)
def test_decay_is_monotone_and_bounded(events: list[tuple[int, int]], later: list[int]) -> None:
    tally = Decayed()
    for at, key in events:
        add(tally, T0 + at * S, (f"k{key}",), 3600, 500)
    count, breadth = value_at(tally, tally.at_us, 3600)
    assert breadth <= len(tally.last) + 1e-9 and count <= len(events) + 1e-9
    values = [value_at(tally, tally.at_us + s * S, 3600) for s in sorted(later)]
    for (c1, b1), (c2, b2) in pairwise(values):
        assert c2 <= c1 and b2 <= b1


def test_peers_judge_a_new_principal_and_own_history_takes_over() -> None:
    assert pool([("g", Stats(5, 0.0, 0.0)), ("g", Stats(0, 9.0, 0.0))])["g"].members == 1
    engine = DetectionEngine()
    history = []
    for p in range(3):  # three peers, each an active hour with 0 or 1 unexplained patient
        for h in range(3):
            kw = ADMIN if h == 0 else {"reasons": CARE, "peer_group": ADMIN["peer_group"]}
            history.append(event(100 * p + h, T0 + h * HOUR, sub=f"peer-{p}", **kw))
    advance(engine, history, CONFIG, ONLY)
    engine = compact(engine, T0 + 4 * HOUR, CONFIG, ONLY)
    peers = engine.peers[str(ADMIN["peer_group"])]
    assert (peers.members, peers.samples) == (3, 9) and peers.stats.mean < 1
    newcomer = [event(1000 + i, T0 + 5 * HOUR + i * S, sub="new", **ADMIN) for i in range(5)]
    assert advance(engine.__class__(dict(engine.principals)), newcomer, CONFIG, ONLY) == []
    alerts = advance(engine, newcomer, CONFIG, ONLY)
    assert alerts and dict(alerts[-1].explanation)["baseline"] == "peer group"
    assert alerts[0].count("threshold") == CONFIG.unexplained_min_floor  # 5, not 10
    reloaded = engine_state_from_dict(
        json.loads(json.dumps(engine_state_to_dict(engine, ONLY))), ONLY
    )
    assert reloaded.peers.keys() == engine.peers.keys()


def test_search_probing_fires_at_the_floor_and_forgets_old_probes() -> None:
    app = {"sub": "app-1", "count_returned": 0, "patient_hashes": (), "reasons": ("scope.granted",
           "compartment.patient", "search.patient_outside_reach")}  # fmt: skip
    probes = [event(i, T0 + i * S, probed_patients=(pseudo(f"o{i}"),), **app) for i in range(12)]
    engine, alerts = run(probes)
    assert kinds(alerts) == [PROBING]  # one alert, updated from the 10th probed patient on
    assert alerts[0].count("probed_patients") == 12 and len(alerts[0].request_ids) == 12
    assert dict(alerts[0].explanation)["baseline"].startswith("fixed floor 10")
    assert run(probes[:9])[1] == []
    same = [event(i, T0 + i * S, probed_patients=(pseudo("o"),), **app) for i in range(30)]
    assert run(same)[1] == []  # one patient probed 30 times: breadth 1
    later = compact(engine, T0 + 2 * HOUR, CONFIG, ONLY)
    assert "app-1" not in later.principals
    restored = engine_state_from_dict(
        json.loads(json.dumps(engine_state_to_dict(engine, ONLY))), ONLY
    )
    assert engine_state_to_dict(restored, ONLY) == engine_state_to_dict(engine, ONLY)
