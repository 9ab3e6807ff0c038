"""Rules that flag single events; repeated triggers within an alert window update one alert.

- break_glass: every event whose reasons include `break_glass` (emergency access, ETREAT).
- self_granted_access: every event whose reasons include `careteam.self_added` (a principal
  listed itself on an active CareTeam, granting itself standing access; the API, which sees
  the CareTeam and the token's fhirUser, records that reason; an attempt refused because it
  came from break-glass alone is alerted too).
- export: every bulk export kick-off (`action == "export"`, status 202).
- vip_access / staff_record_access: data of a VIP / staff patient returned to a principal
  without a treating relationship (neither `careteam.member` nor `compartment.patient`).
- same_surname: data returned while the enrichment flagged a shared family name, outside a
  treating relationship (a namesake on one's own care team, or one's own record, is fine).

State per principal: the open alert and the distinct patients of its window (capped at
`max_tracked_patients`: the count then saturates).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stream.detection.alerts import (
    Alert,
    episode_count,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
)
from stream.detection.config import DetectionConfig
from stream.detection.event import DetectionEvent

BREAK_GLASS = "break_glass"
SELF_ADDED = "careteam.self_added"
TREATING = frozenset({"careteam.member", "compartment.patient"})


@dataclass(frozen=True, slots=True)
class EpisodeState:
    open_alert: Alert | None = None
    patients: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EventRule:
    kind: str
    version: str
    matches: Callable[[DetectionEvent], bool]
    patients_of: Callable[[DetectionEvent], tuple[str, ...]]
    what: str  # what happened, for the summary, e.g. "break-glass access"

    def initial(self) -> EpisodeState:
        return EpisodeState()

    def evaluate(
        self, state: EpisodeState, event: DetectionEvent, config: DetectionConfig
    ) -> tuple[EpisodeState, list[Alert]]:
        if not self.matches(event):
            return state, []
        open_alert = state.open_alert
        ongoing = open_alert is not None and open_alert.open_at(event.ts_us)
        patients = _add_capped(
            state.patients if ongoing else frozenset(),
            self.patients_of(event),
            config.max_tracked_patients,
        )
        events = episode_count(open_alert, event.ts_us, "events") + 1
        n = len(patients)
        fresh = new_alert(
            kind=self.kind,
            severity=config.severity(self.kind),
            principal=event.principal,
            ts_us=event.ts_us,
            window_s=config.alert_window_s,
            counts=[("events", events), ("distinct_patients", n)],
            rule_version=self.version,
            request_ids=[event.request_id],
            summary=f"{event.principal}: {self.what} ({events} in window, {n} patients)",
        )
        alert = raise_alert(open_alert, fresh)
        return EpisodeState(alert, patients), [alert]

    def compact(
        self, state: EpisodeState, now_us: int, config: DetectionConfig
    ) -> EpisodeState | None:
        if state.open_alert is None or not state.open_alert.open_at(now_us):
            return None
        return state

    def state_to_dict(self, state: EpisodeState) -> dict[str, Any]:
        return {
            "open_alert": optional_alert_to_dict(state.open_alert),
            "patients": sorted(state.patients),
        }

    def state_from_dict(self, data: Mapping[str, Any]) -> EpisodeState:
        return EpisodeState(
            optional_alert_from_dict(data["open_alert"]),
            frozenset(str(p) for p in data["patients"]),
        )


def _add_capped(known: frozenset[str], new: tuple[str, ...], cap: int) -> frozenset[str]:
    room = max(cap - len(known), 0)
    fresh = [p for p in dict.fromkeys(new) if p not in known][:room]
    return known | frozenset(fresh) if fresh else known


def _treating(event: DetectionEvent) -> bool:
    return not TREATING.isdisjoint(event.reasons)


def _break_glass(event: DetectionEvent) -> bool:
    return BREAK_GLASS in event.reasons


def _self_granted(event: DetectionEvent) -> bool:
    return SELF_ADDED in event.reasons


def _export(event: DetectionEvent) -> bool:
    return event.action == "export" and event.status == 202


def _vip(event: DetectionEvent) -> bool:
    return event.returned_data and bool(event.vip_patients) and not _treating(event)


def _staff(event: DetectionEvent) -> bool:
    return event.returned_data and bool(event.staff_patients) and not _treating(event)


def _same_surname(event: DetectionEvent) -> bool:
    """A namesake looked up outside a treating relationship: clinicians legitimately treat
    namesakes on their own care team, and a patient reading their own record is no lookup."""
    return event.returned_data and event.same_surname and not _treating(event)


def _touched(event: DetectionEvent) -> tuple[str, ...]:
    return event.patient_hashes


def _vips(event: DetectionEvent) -> tuple[str, ...]:
    return event.vip_patients


def _staff_members(event: DetectionEvent) -> tuple[str, ...]:
    return event.staff_patients


BREAK_GLASS_RULE = EventRule("break_glass", "1", _break_glass, _touched, "break-glass access")
SELF_GRANT_RULE = EventRule(
    "self_granted_access", "1", _self_granted, _touched, "added itself to a care team"
)
EXPORT_RULE = EventRule("export", "1", _export, _touched, "bulk export kick-off")
_NO_CARE = "accessed without a care relationship"
VIP_RULE = EventRule("vip_access", "1", _vip, _vips, f"VIP record {_NO_CARE}")
STAFF_RULE = EventRule(
    "staff_record_access", "1", _staff, _staff_members, f"staff record {_NO_CARE}"
)
SAME_SURNAME_RULE = EventRule(
    "same_surname", "2", _same_surname, _touched, "same-surname patient accessed"
)
