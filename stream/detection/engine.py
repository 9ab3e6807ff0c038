"""The detection engine: every rule over every event, state in and state out.

`DetectionEngine` holds, per principal, each rule's (mutable) state. Each rule sees a whole
batch at once with its events' principal states (`Rule.observe`) and updates them in place
rather than copying them per event. Two entry points, the same results:

- `advance(engine, events, ...)` mutates the engine it is given: for a caller that owns
  its engine and keeps no other reference to its states (the detector shell);
- `detect(engine, events, ...)` is pure: it copies the principals the batch touches and
  leaves its input alone.

Both yield the alerts created or updated by the batch, one per alert id (merged), in the
order they first appeared (by triggering event, then rule order). Publish them as upserts
keyed by `alert_id`: a later version of an alert always carries everything of the earlier
ones (the rules keep the open alert).

Peer groups: the engine also holds each peer group's pooled baseline (`peers`), pooled
again from the principals' own baselines at every `compact` (and on loading); a rule with
`observe_with_peers` is handed it with each batch.

Suppressions, passed in as (kind, principal) -> until (µs): an alert of that kind and
principal triggered before `until` is not returned. The rules still learn from the events,
so an episode still open when the suppression ends is reported with all its evidence.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from stream.detection.alerts import Alert, merge
from stream.detection.baseline import Baseline, baseline_from_dict, baseline_to_dict
from stream.detection.bulk import KIND as BULK
from stream.detection.bulk import BulkState
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.habits import DormantState
from stream.detection.owners import Owners, PrincipalState
from stream.detection.peers import PeerBaseline, PeerBook, pool
from stream.detection.rules import DEFAULT_RULES, Rule, rules_by_kind
from stream.detection.unexplained import KIND as UNEXPLAINED

ENGINE_FORMAT = 1
DORMANT = "dormant_principal"
Rules = tuple[Rule[Any], ...]
Suppressions = Mapping[tuple[str, str], int]  # (kind, principal) -> suppressed until (µs)
_Found = dict[str, tuple[tuple[int, int], Alert]]  # alert id -> (first appearance, alert)


@dataclass(slots=True)
class DetectionEngine:
    """All detection state: principal -> rule kind -> that rule's state; and the peer
    groups' pooled baselines (derived from the principals' states, never persisted)."""

    principals: dict[str, PrincipalState] = field(default_factory=dict)
    peers: dict[str, PeerBaseline] = field(default_factory=dict, compare=False)


EngineState = DetectionEngine


def detect(
    engine_state: DetectionEngine,
    events: Sequence[DetectionEvent],
    config: DetectionConfig | None = None,
    rules: Rules = DEFAULT_RULES,
    suppressed: Suppressions | None = None,
) -> tuple[DetectionEngine, list[Alert]]:
    """Pure: a new engine (sharing the principals the batch does not touch) and the alerts."""
    forked = fork(engine_state, {event.principal for event in events}, rules)
    return forked, advance(forked, events, config, rules, suppressed)


def advance(
    engine_state: DetectionEngine,
    events: Sequence[DetectionEvent],
    config: DetectionConfig | None = None,
    rules: Rules = DEFAULT_RULES,
    suppressed: Suppressions | None = None,
) -> list[Alert]:
    """In place: `engine_state` takes in the batch; returns the alerts."""
    config = config or DetectionConfig()
    active = [rule for rule in rules if config.enabled(rule.kind)]
    owners = _owners(engine_state.principals, events)
    found: _Found = {}
    for position, rule in enumerate(active):
        for index, alert in _observe(rule, events, owners, config, engine_state.peers):
            if not _muted(alert, suppressed):
                _collect(found, (index, position), alert)
    return [alert for _, alert in sorted(found.values(), key=itemgetter(0))]


def _observe(
    rule: Rule[Any],
    events: Sequence[DetectionEvent],
    owners: Owners,
    config: DetectionConfig,
    peers: PeerBook,
) -> list[tuple[int, Alert]]:
    with_peers = getattr(rule, "observe_with_peers", None)
    if with_peers is not None:
        raised: list[tuple[int, Alert]] = with_peers(events, owners, config, peers)
        return raised
    return rule.observe(events, owners, config)


def peer_baselines(principals: Mapping[str, PrincipalState]) -> dict[str, PeerBaseline]:
    """Each peer group's pooled baseline of unexplained patients per active hour."""
    return pool(
        (state[UNEXPLAINED].group, state[UNEXPLAINED].own)
        for state in principals.values()
        if UNEXPLAINED in state
    )


def _owners(
    principals: dict[str, PrincipalState], events: Sequence[DetectionEvent]
) -> list[PrincipalState]:
    """Each event's principal state (made for a principal seen for the first time)."""
    owners = []
    for event in events:
        key = event.principal
        owner = principals.get(key)
        if owner is None:
            owner = principals[key] = {}
        owners.append(owner)
    return owners


def _muted(alert: Alert, suppressed: Suppressions | None) -> bool:
    if not suppressed:
        return False
    return alert.last_seen_us < suppressed.get((alert.kind, alert.principal), -1)


def _collect(found: _Found, order: tuple[int, int], alert: Alert) -> None:
    known = found.get(alert.alert_id)
    found[alert.alert_id] = (order, alert) if known is None else (known[0], merge(known[1], alert))


def fork(
    engine_state: DetectionEngine, principals: Collection[str], rules: Rules = DEFAULT_RULES
) -> DetectionEngine:
    """A new engine whose `principals` have states of their own (copies); the others are
    shared with the input."""
    by_kind = rules_by_kind(rules)
    copied = dict(engine_state.principals)
    for key in principals:
        state = copied.get(key)
        if state is not None:
            copied[key] = {
                kind: by_kind[kind].copy(rule_state) if kind in by_kind else rule_state
                for kind, rule_state in state.items()
            }
    return DetectionEngine(copied, dict(engine_state.peers))


def compact(
    engine_state: DetectionEngine,
    now_us: int,
    config: DetectionConfig | None = None,
    rules: Rules = DEFAULT_RULES,
) -> DetectionEngine:
    """Drop stale window entries, expired open alerts and principals with nothing left;
    folds a finished hour into the baseline. Call it now and then (e.g. every minute).

    Pure. A principal with nothing to compact keeps its very mapping (`is`): a persister
    need not serialise it again. The result shares those states with the input, so go on
    with one of the two only."""
    config = config or DetectionConfig()
    by_kind = rules_by_kind(rules)
    principals: dict[str, PrincipalState] = {}
    for key, state in engine_state.principals.items():
        kept = _compact_principal(state, now_us, config, by_kind)
        if kept:
            principals[key] = kept
    return DetectionEngine(principals, peer_baselines(principals))


def _compact_principal(
    state: PrincipalState, now_us: int, config: DetectionConfig, by_kind: Mapping[str, Rule[Any]]
) -> PrincipalState:
    kept = {}
    for kind, rule_state in state.items():
        rule = by_kind.get(kind)
        compacted = rule.compact(rule_state, now_us, config) if rule else None
        if compacted is not None:
            kept[kind] = compacted
    unchanged = len(kept) == len(state) and all(kept[k] is s for k, s in state.items())
    return state if unchanged else kept


def principal_state_to_dict(state: PrincipalState, rules: Rules = DEFAULT_RULES) -> dict[str, Any]:
    """One principal's part of `engine_state_to_dict`."""
    by_kind = rules_by_kind(rules)
    return {
        kind: by_kind[kind].state_to_dict(rule_state)
        for kind, rule_state in state.items()
        if kind in by_kind
    }


def engine_state_to_dict(
    engine_state: DetectionEngine, rules: Rules = DEFAULT_RULES
) -> dict[str, Any]:
    """Plain JSON: {"format": 1, "principals": {principal: {kind: rule state}}}."""
    return {
        "format": ENGINE_FORMAT,
        "principals": {
            key: principal_state_to_dict(state, rules)
            for key, state in engine_state.principals.items()
        },
    }


def engine_state_from_dict(
    data: Mapping[str, Any], rules: Rules = DEFAULT_RULES
) -> DetectionEngine:
    """The inverse; states of kinds no rule knows any more are dropped."""
    if data.get("format") != ENGINE_FORMAT:
        raise ValueError(f"unsupported engine state format {data.get('format')!r}")
    by_kind = rules_by_kind(rules)
    principals = {
        str(key): {
            kind: by_kind[kind].state_from_dict(rule_state)
            for kind, rule_state in state.items()
            if kind in by_kind
        }
        for key, state in data["principals"].items()
    }
    return DetectionEngine(principals, peer_baselines(principals))


def principal_baselines(engine_state: DetectionEngine) -> dict[str, dict[str, Any]]:
    """The long-lived bulk baselines, per principal, as plain JSON (to keep in the store)."""
    return {
        key: baseline_to_dict(state[BULK].baseline)
        for key, state in engine_state.principals.items()
        if BULK in state and state[BULK].baseline.overall.n > 0
    }


def with_baselines(
    engine_state: DetectionEngine, baselines: Mapping[str, Mapping[str, Any]]
) -> DetectionEngine:
    """Seed (or replace) principals' baselines, e.g. from the evidence store at start-up."""
    loaded = {key: baseline_from_dict(data) for key, data in baselines.items()}
    return _with(engine_state, BULK, loaded, _set_baseline)


def with_last_seen(engine_state: DetectionEngine, last_seen: Mapping[str, int]) -> DetectionEngine:
    """Seed dormant_principal's memory, e.g. from `SELECT sub, max(ts_us) ... GROUP BY sub`;
    a later time already known wins."""
    return _with(engine_state, DORMANT, dict(last_seen), _set_last_seen)


def _set_baseline(state: BulkState | None, baseline: Baseline) -> BulkState:
    state = BulkState() if state is None else state
    state.baseline = baseline
    return state


def _set_last_seen(state: DormantState | None, ts_us: int) -> DormantState:
    return DormantState(max(state.last_seen_us if state else -1, int(ts_us)))


def _with(
    engine_state: DetectionEngine,
    kind: str,
    values: Mapping[str, Any],
    setter: Callable[[Any, Any], Any],
) -> DetectionEngine:
    """Pure: the principals set are forked first, so the setter may change their states."""
    forked = fork(engine_state, values.keys())
    for key, value in values.items():
        state = forked.principals.setdefault(key, {})
        state[kind] = setter(state.get(kind), value)
    return forked
