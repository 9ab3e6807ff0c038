"""The detection engine: every rule over every event, in order, state in and state out.

`DetectionEngine` holds, per principal, each rule's state. `detect` is pure: it returns a
new engine and the alerts created or updated by the batch, one per alert id (merged), in
the order they first appeared. Publish them as upserts keyed by `alert_id`: a later version
of an alert always carries everything of the earlier ones (the rules keep the open alert).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import Alert, merge
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from tests.stream.detection.reference.per_event import EventRule
from tests.stream.detection.reference.rules import DEFAULT_RULES, Rule

ENGINE_FORMAT = 1
Rules = tuple[Rule[Any], ...]
PrincipalState = Mapping[str, Any]  # rule kind -> that rule's state


@dataclass(frozen=True, slots=True)
class DetectionEngine:
    """All detection state: principal -> rule kind -> that rule's (frozen) state."""

    principals: Mapping[str, PrincipalState] = field(default_factory=dict)


EngineState = DetectionEngine


def detect(
    engine_state: DetectionEngine,
    events: Sequence[DetectionEvent],
    config: DetectionConfig | None = None,
    rules: Rules = DEFAULT_RULES,
) -> tuple[DetectionEngine, list[Alert]]:
    config = config or DetectionConfig()
    active = tuple(rule for rule in rules if config.enabled(rule.kind))
    principals = dict(engine_state.principals)
    raised: dict[str, Alert] = {}
    for event in events:
        key = event.principal
        principals[key] = _run(principals.get(key, {}), event, config, active, raised)
    return DetectionEngine(principals), list(raised.values())


def _run(
    state: PrincipalState,
    event: DetectionEvent,
    config: DetectionConfig,
    rules: Rules,
    raised: dict[str, Alert],
) -> dict[str, Any]:
    updated = dict(state)
    for rule in rules:
        if rule.kind not in state and isinstance(rule, EventRule) and not rule.matches(event):
            continue  # nothing to remember and nothing to raise: no state is created
        current = state[rule.kind] if rule.kind in state else rule.initial()
        after, alerts = rule.evaluate(current, event, config)
        if after is not current or rule.kind in state:  # untouched initial states stay out
            updated[rule.kind] = after
        for alert in alerts:
            known = raised.get(alert.alert_id)
            raised[alert.alert_id] = alert if known is None else merge(known, alert)
    return updated


def compact(
    engine_state: DetectionEngine,
    now_us: int,
    config: DetectionConfig | None = None,
    rules: Rules = DEFAULT_RULES,
) -> DetectionEngine:
    """Drop stale window entries, expired open alerts and principals with nothing left;
    folds a finished hour into the baseline. Call it now and then (e.g. every minute)."""
    config = config or DetectionConfig()
    by_kind = {rule.kind: rule for rule in rules}
    principals: dict[str, PrincipalState] = {}
    for key, state in engine_state.principals.items():
        kept = {}
        for kind, rule_state in state.items():
            rule = by_kind.get(kind)
            compacted = rule.compact(rule_state, now_us, config) if rule else None
            if compacted is not None:
                kept[kind] = compacted
        if kept:
            principals[key] = kept
    return DetectionEngine(principals)


def engine_state_to_dict(
    engine_state: DetectionEngine, rules: Rules = DEFAULT_RULES
) -> dict[str, Any]:
    """Plain JSON: {"format": 1, "principals": {principal: {kind: rule state}}}."""
    by_kind = {rule.kind: rule for rule in rules}
    return {
        "format": ENGINE_FORMAT,
        "principals": {
            key: {
                kind: by_kind[kind].state_to_dict(rule_state)
                for kind, rule_state in state.items()
                if kind in by_kind
            }
            for key, state in engine_state.principals.items()
        },
    }


def engine_state_from_dict(
    data: Mapping[str, Any], rules: Rules = DEFAULT_RULES
) -> DetectionEngine:
    """The inverse; states of kinds no rule knows any more are dropped."""
    if data.get("format") != ENGINE_FORMAT:
        raise ValueError(f"unsupported engine state format {data.get('format')!r}")
    by_kind = {rule.kind: rule for rule in rules}
    return DetectionEngine(
        {
            str(key): {
                kind: by_kind[kind].state_from_dict(rule_state)
                for kind, rule_state in state.items()
                if kind in by_kind
            }
            for key, state in data["principals"].items()
        }
    )
