"""The incremental engine (mutable state, one pass per principal per batch) against the
reference it replaced (immutable state copied on every event, kept verbatim in
`reference/`): for any stream cut into any batches, with compactions and restarts in
between, the same alerts in the same order and the same persisted state (over the rules the
reference knows; later rules have property tests of their own)."""

import json
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.detection import (
    DEFAULT_RULES,
    DetectionEngine,
    DetectionEvent,
    advance,
    compact,
    detect,
    engine_state_from_dict,
    engine_state_to_dict,
)
from tests.stream.detection.properties import SMALL, streams
from tests.stream.detection.reference import engine as reference
from tests.stream.detection.support import CARE, HOUR, MIN, T0, S, event

_KNOWN = {rule.kind for rule in reference.DEFAULT_RULES}
RULES = tuple(rule for rule in DEFAULT_RULES if rule.kind in _KNOWN)
_cuts = st.lists(st.integers(min_value=0, max_value=60), max_size=6)
_pauses = st.sampled_from([-MIN, 0, 30 * MIN, 2 * HOUR, 30 * 24 * HOUR])
_between = st.tuples(st.booleans(), _pauses)  # after a batch: restart? compact how much later?


@st.composite
def scrapes(draw: st.DrawFn) -> list[DetectionEvent]:
    """One principal reading many patients over hours: caps, hour folds and baselines."""
    gaps = st.sampled_from([0, S, 10 * S, MIN, 20 * MIN, HOUR, 3 * HOUR])
    ts, events = T0, []
    for n in range(draw(st.integers(min_value=0, max_value=120))):
        ts += draw(gaps)
        touched = draw(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=3))
        late = draw(st.sampled_from([0, 0, 0, 0, 30 * S, 2 * HOUR]))  # some arrive late
        patients = tuple(f"{p:032x}" for p in touched)
        events.append(event(n, ts - late, patient_hashes=patients, reasons=CARE))
    return events


def _batches(events: list[DetectionEvent], cuts: list[int]) -> list[list[DetectionEvent]]:
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    return [events[start:end] for start, end in pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(st.one_of(streams(), scrapes()), _cuts, st.lists(_between, min_size=6, max_size=6))
def test_same_alerts_and_state_as_the_reference(
    events: list[DetectionEvent], cuts: list[int], between: list[tuple[bool, int]]
) -> None:
    old, new = reference.DetectionEngine(), DetectionEngine()
    for batch, (restart, pause) in zip(_batches(events, cuts), between, strict=False):
        old, expected = reference.detect(old, batch, SMALL)
        assert advance(new, batch, SMALL, RULES) == expected
        assert engine_state_to_dict(new, RULES) == reference.engine_state_to_dict(old)
        if pause:  # a compaction some time after the batch (or, clocks differ, before it)
            now = batch[-1].ts_us + pause
            old, new = reference.compact(old, now, SMALL), compact(new, now, SMALL, RULES)
            assert engine_state_to_dict(new, RULES) == reference.engine_state_to_dict(old)
        if restart:
            saved = json.loads(json.dumps(engine_state_to_dict(new, RULES)))
            new = engine_state_from_dict(saved, RULES)


@settings(max_examples=100, deadline=None)
@given(streams())
def test_one_event_at_a_time_is_one_batch(events: list[DetectionEvent]) -> None:
    whole = DetectionEngine()
    alerts = {a.alert_id: a for a in advance(whole, events, SMALL)}
    single, latest = DetectionEngine(), {}
    for item in events:
        latest.update({a.alert_id: a for a in advance(single, [item], SMALL)})
    assert single == whole and latest == alerts


@settings(max_examples=60, deadline=None)
@given(streams(), _cuts)
def test_detect_is_advance_on_a_copy(events: list[DetectionEvent], cuts: list[int]) -> None:
    pure, owned = DetectionEngine(), DetectionEngine()
    for batch in _batches(events, cuts):
        before = engine_state_to_dict(pure)
        after, alerts = detect(pure, batch, SMALL)
        assert engine_state_to_dict(pure) == before  # the input is untouched
        assert advance(owned, batch, SMALL) == alerts
        assert after == owned
        pure = after
