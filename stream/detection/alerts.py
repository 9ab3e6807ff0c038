"""Alerts: one per (kind, principal, window), updated rather than repeated.

An alert's window is an *episode*: it starts at the first triggering event and lasts
`window_s`; every further trigger of the same kind and principal inside it updates the same
alert (same `alert_id`), so a spike of 500 requests yields one alert, not 500.

Every alert explains itself: `explanation` holds plain (name, text) pairs — at least the
rule (`rule`), and where the rule has one the baseline it judged by (`baseline`: a fixed
floor, the principal's own history or its peer group `peer_group`) and the threshold. The
evidence behind it is `request_ids`. No patient pseudonym and no clinical content in it.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
MAX_REQUEST_IDS = 100
_SECOND_US = 1_000_000
_FIELDS = (
    "alert_id",
    "kind",
    "severity",
    "principal",
    "first_seen_us",
    "last_seen_us",
    "window_start_us",
    "window_s",
    "counts",
    "rule_version",
    "request_ids",
    "summary",
    "explanation",
)
_OPTIONAL = frozenset({"explanation"})  # absent from alerts stored before it existed
Explanation = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str  # alert_key(kind, principal, window_start_us)
    kind: str
    severity: str  # one of SEVERITIES
    principal: str  # the `sub` (or client:<id> / anonymous, see DetectionEvent.principal)
    first_seen_us: int  # earliest evidence event behind the alert
    last_seen_us: int  # latest evidence event behind the alert
    window_start_us: int  # start of the episode (the first triggering event)
    window_s: int  # length of the episode
    counts: tuple[tuple[str, int], ...]
    rule_version: str
    request_ids: tuple[str, ...]  # evidence behind it: most recent MAX_REQUEST_IDS, unique
    summary: str  # short text: no clinical content, no ids but the principal
    explanation: Explanation = ()  # (name, text): rule, baseline / peer group, threshold

    def count(self, name: str) -> int:
        return dict(self.counts).get(name, 0)

    def open_at(self, ts_us: int) -> bool:
        """Does a trigger at `ts_us` belong to this episode? Anything before its end
        (window_start + window_s) does: a late event joins the episode it arrives in."""
        return ts_us < self.window_start_us + self.window_s * _SECOND_US


Raised = list[tuple[int, Alert]]  # alerts of a rule over a batch: (index of the trigger, alert)


def alert_key(kind: str, principal: str, window_start_us: int) -> str:
    text = f"{kind}|{principal}|{window_start_us}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def bound_request_ids(*groups: Iterable[str]) -> tuple[str, ...]:
    """Concatenate, drop repeats (first occurrence kept), keep the most recent 100."""
    unique = dict.fromkeys(chain.from_iterable(groups))
    unique.pop("", None)
    return tuple(unique)[-MAX_REQUEST_IDS:]


def merge(existing: Alert, update: Alert) -> Alert:
    """Fold a newer view of the same alert into the stored one: times widen, counts keep
    their maximum, request ids are united (bounded), the newer summary and version win."""
    if existing.alert_id != update.alert_id:
        raise ValueError("cannot merge different alerts")
    return replace(
        existing,
        severity=max(existing.severity, update.severity, key=SEVERITIES.index),
        first_seen_us=min(existing.first_seen_us, update.first_seen_us),
        last_seen_us=max(existing.last_seen_us, update.last_seen_us),
        counts=_max_counts(existing.counts, update.counts),
        rule_version=update.rule_version,
        request_ids=bound_request_ids(existing.request_ids, update.request_ids),
        summary=update.summary,
        explanation=update.explanation or existing.explanation,
    )


def _max_counts(
    old: tuple[tuple[str, int], ...], new: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, int], ...]:
    merged = dict(old)
    for name, value in new:
        merged[name] = max(merged.get(name, value), value)
    return tuple(merged.items())


def raise_alert(open_alert: Alert | None, fresh: Alert) -> Alert:
    """The alert to publish for a trigger: `fresh` merged into the open episode when the
    trigger falls inside it, otherwise `fresh` itself (a new episode)."""
    if open_alert is None or open_alert.kind != fresh.kind:
        return fresh
    if not open_alert.open_at(fresh.last_seen_us) or open_alert.principal != fresh.principal:
        return fresh
    moved = replace(fresh, alert_id=open_alert.alert_id, window_start_us=open_alert.window_start_us)
    return merge(open_alert, replace(moved, window_s=open_alert.window_s))


def unreported_after(open_alert: Alert | None, ts_us: int, cutoff_us: int) -> int:
    """Evidence newer than this is not in the open episode's alert yet: the open alert
    already holds everything up to its `last_seen_us`, so an update only adds the rest."""
    if open_alert is None or not open_alert.open_at(ts_us):
        return cutoff_us
    return max(cutoff_us, open_alert.last_seen_us - 1)


def episode_count(open_alert: Alert | None, ts_us: int, name: str) -> int:
    """A running count of the open episode, 0 once the episode is over."""
    return open_alert.count(name) if open_alert and open_alert.open_at(ts_us) else 0


def new_alert(
    *,
    kind: str,
    severity: str,
    principal: str,
    ts_us: int,
    window_s: int,
    counts: Iterable[tuple[str, int]],
    rule_version: str,
    request_ids: Iterable[str],
    summary: str,
    first_seen_us: int | None = None,
    explanation: Iterable[tuple[str, str]] = (),
) -> Alert:
    """An alert whose episode starts at the triggering event `ts_us`; its explanation names
    the rule first, then what the rule adds."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    return Alert(
        alert_id=alert_key(kind, principal, ts_us),
        kind=kind,
        severity=severity,
        principal=principal,
        first_seen_us=ts_us if first_seen_us is None else min(first_seen_us, ts_us),
        last_seen_us=ts_us,
        window_start_us=ts_us,
        window_s=window_s,
        counts=tuple((str(name), int(value)) for name, value in counts),
        rule_version=rule_version,
        request_ids=bound_request_ids(request_ids),
        summary=summary,
        explanation=explained(kind, rule_version, explanation),
    )


def explained(kind: str, version: str, more: Iterable[tuple[str, str]]) -> Explanation:
    """The rule and its version first, then the rule's own pairs (later names win)."""
    pairs = {"rule": kind, "rule_version": version}
    pairs.update((str(name), str(text)) for name, text in more)
    return tuple(pairs.items())


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """JSON-ready: counts become an object (order kept), request ids a list."""
    data = {name: getattr(alert, name) for name in _FIELDS}
    data["counts"] = dict(alert.counts)
    data["request_ids"] = list(alert.request_ids)
    data["explanation"] = dict(alert.explanation)
    return data


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    if not set(_FIELDS) - _OPTIONAL <= set(data) <= set(_FIELDS):
        raise ValueError(f"alert fields differ: {sorted(set(data) ^ set(_FIELDS))}")
    if data["severity"] not in SEVERITIES:
        raise ValueError(f"unknown severity {data['severity']!r}")
    counts = data["counts"]
    pairs = counts.items() if isinstance(counts, Mapping) else counts
    return Alert(
        alert_id=str(data["alert_id"]),
        kind=str(data["kind"]),
        severity=str(data["severity"]),
        principal=str(data["principal"]),
        first_seen_us=int(data["first_seen_us"]),
        last_seen_us=int(data["last_seen_us"]),
        window_start_us=int(data["window_start_us"]),
        window_s=int(data["window_s"]),
        counts=tuple((str(name), int(value)) for name, value in pairs),
        rule_version=str(data["rule_version"]),
        request_ids=tuple(str(rid) for rid in data["request_ids"]),
        summary=str(data["summary"]),
        explanation=tuple((str(k), str(v)) for k, v in (data.get("explanation") or {}).items()),
    )


def optional_alert_to_dict(alert: Alert | None) -> dict[str, Any] | None:
    return None if alert is None else alert_to_dict(alert)


def optional_alert_from_dict(data: Mapping[str, Any] | None) -> Alert | None:
    return None if data is None else alert_from_dict(data)
