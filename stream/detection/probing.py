"""search_probing: searches naming patients the caller may not see.

The API records, for a search whose parameters name a patient outside the caller's reach,
the pseudonyms of those patients (`probed_patient_hashes`, reason
`search.patient_outside_reach`); the client still gets its (empty) searchset. Per principal
the distinct probed patients of a sliding `search_probing_window_s` are kept (pseudonym ->
latest time and request id, oldest first, capped at `max_tracked_patients`); the rule fires
at `search_probing_floor` of them and updates its alert while the probing goes on.
"""

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    Alert,
    Raised,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent
from stream.detection.owners import Owners, own
from stream.detection.recency import Recency, drop_until, first_time

KIND = "search_probing"
VERSION = "1"
_SECOND_US = 1_000_000


@dataclass(slots=True)
class ProbingState:
    probed: Recency = field(default_factory=OrderedDict)  # pseudonym -> (time, request id)
    latest_us: int = 0
    open_alert: Alert | None = None


class SearchProbing:
    kind = KIND
    version = VERSION

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        """In place: each probing event slides its principal's window, then is judged."""
        raised: Raised = []
        for index, event in enumerate(events):
            if not event.probed_patients:
                continue
            state = own(owners[index], KIND, ProbingState)
            _admit(state, event, config)
            if len(state.probed) >= config.search_probing_floor:
                state.open_alert = raise_alert(state.open_alert, _alert(state, event, config))
                raised.append((index, state.open_alert))
        return raised

    def copy(self, state: ProbingState) -> ProbingState:
        return ProbingState(state.probed.copy(), state.latest_us, state.open_alert)

    def compact(
        self, state: ProbingState, now_us: int, config: DetectionConfig
    ) -> ProbingState | None:
        cutoff = now_us - config.search_probing_window_s * _SECOND_US
        stale = bool(state.probed) and first_time(state.probed) <= cutoff
        expired = state.open_alert is not None and not state.open_alert.open_at(now_us)
        if not (stale or expired):
            return state
        kept = self.copy(state)
        drop_until(kept.probed, cutoff)
        kept.open_alert = None if expired else kept.open_alert
        return kept if kept.probed or kept.open_alert else None

    def state_to_dict(self, state: ProbingState) -> dict[str, Any]:
        return {
            "probed": [[p, ts, rid] for p, (ts, rid) in state.probed.items()],
            "latest_us": state.latest_us,
            "open_alert": optional_alert_to_dict(state.open_alert),
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> ProbingState:
        entries = sorted(
            ((str(p), (int(ts), str(rid))) for p, ts, rid in data["probed"]),
            key=lambda item: item[1][0],
        )
        alert = optional_alert_from_dict(data["open_alert"])
        return ProbingState(OrderedDict(entries), int(data["latest_us"]), alert)


def _admit(state: ProbingState, event: DetectionEvent, config: DetectionConfig) -> None:
    """At the principal's latest time (a late event counts as now: the window stays ordered)."""
    now = max(state.latest_us, event.ts_us)
    probed = state.probed
    drop_until(probed, now - config.search_probing_window_s * _SECOND_US)
    for patient in event.probed_patients:
        probed.pop(patient, None)
        probed[patient] = (now, event.request_id)
    while len(probed) > config.max_tracked_patients:
        probed.popitem(last=False)
    state.latest_us = now


def _alert(state: ProbingState, event: DetectionEvent, config: DetectionConfig) -> Alert:
    n, who = len(state.probed), event.principal
    window = config.search_probing_window_s
    return new_alert(
        kind=KIND,
        severity=config.severity(KIND),
        principal=who,
        ts_us=state.latest_us,
        window_s=config.alert_window_s,
        counts=[("probed_patients", n), ("window_s", window)],
        rule_version=VERSION,
        request_ids=[rid for _, rid in state.probed.values()],
        summary=f"{who}: searches named {n} patients outside its reach within {window} s",
        first_seen_us=first_time(state.probed),
        explanation=[
            ("baseline", f"fixed floor {config.search_probing_floor} distinct probed patients"),
            ("peer_group", event.peer_group),
            ("evidence", "request_ids: the searches that named patients outside the reach"),
        ],
    )
