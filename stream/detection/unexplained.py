"""unexplained_access: accesses no relationship explains (`explained`), per principal,
tallied with exponential decay; fires on their breadth (decayed distinct patients) against a
threshold from the principal's own history, else its peer group, else a default floor, or on
their rate (decayed accesses). No warm-up: a new principal is judged from its first access.

State per principal (plain data, mutated in place by the engine's batch): the decayed tally
of unexplained accesses, the current active clock hour and its unexplained patients (folded
into the principal's own EWMA baseline when a later hour starts or at compaction), the
request ids of the latest unexplained accesses, and the open alert.
"""

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.detection.alerts import (
    MAX_REQUEST_IDS,
    Alert,
    Raised,
    new_alert,
    optional_alert_from_dict,
    optional_alert_to_dict,
    raise_alert,
)
from stream.detection.baseline import HOUR_US, Stats, ewma, spread
from stream.detection.config import DetectionConfig
from stream.detection.decay import Decayed, add, copy_decayed, forget_before
from stream.detection.event import DetectionEvent
from stream.detection.explained import explanation, is_access
from stream.detection.owners import Owners, own
from stream.detection.peers import PeerBook, trusted

KIND = "unexplained_access"
VERSION = "1"
_FORGET_AFTER_TAUS = 12  # a key this many tau old weighs < 1e-5: dropped at compaction


@dataclass(slots=True)
class UnexplainedState:
    group: str = ""
    tally: Decayed = field(default_factory=Decayed)
    hour_index: int = -1  # the active clock hour not yet folded into `own`
    hour_patients: set[str] = field(default_factory=set)
    own: Stats = field(default_factory=Stats)  # unexplained patients per active hour
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_REQUEST_IDS))
    open_alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    basis: str  # "own history", "peer group", "default floor"
    mean: float = 0.0


class UnexplainedAccess:
    kind = KIND
    version = VERSION

    def observe(
        self, events: Sequence[DetectionEvent], owners: Owners, config: DetectionConfig
    ) -> Raised:
        return self.observe_with_peers(events, owners, config, {})

    def observe_with_peers(
        self,
        events: Sequence[DetectionEvent],
        owners: Owners,
        config: DetectionConfig,
        peers: PeerBook,
    ) -> Raised:
        """In place: every access enters its principal's hour; an unexplained one its tally,
        then is judged."""
        raised: Raised = []
        for index, event in enumerate(events):
            if not is_access(event):
                continue
            state = own(owners[index], KIND, UnexplainedState)
            admit_hour(state, event, config)
            if explanation(event):
                continue
            cap, tau = config.unexplained_max_tracked, config.unexplained_tau_s
            add(state.tally, event.ts_us, event.patient_hashes, tau, cap)
            _add_capped(state.hour_patients, event.patient_hashes, cap)
            state.recent.append(event.request_id)
            alert = _judge(state, event, config, peers)
            if alert is not None:
                raised.append((index, alert))
        return raised

    def copy(self, state: UnexplainedState) -> UnexplainedState:
        return UnexplainedState(
            state.group, copy_decayed(state.tally), state.hour_index, set(state.hour_patients),
            state.own, deque(state.recent, maxlen=MAX_REQUEST_IDS), state.open_alert,
        )  # fmt: skip

    def compact(
        self, state: UnexplainedState, now_us: int, config: DetectionConfig
    ) -> UnexplainedState | None:
        return compact_state(state, now_us, config)

    def state_to_dict(self, state: UnexplainedState) -> dict[str, Any]:
        tally = state.tally
        return {
            "group": state.group,
            "tally": {"at_us": tally.at_us, "count": tally.count, "breadth": tally.breadth,
                      "last": dict(tally.last)},
            "hour_index": state.hour_index,
            "hour_patients": sorted(state.hour_patients),
            "own": {"n": state.own.n, "mean": state.own.mean, "var": state.own.var},
            "recent": list(state.recent),
            "open_alert": optional_alert_to_dict(state.open_alert),
        }  # fmt: skip

    def state_from_dict(self, data: Mapping[str, Any]) -> UnexplainedState:
        t, o = data["tally"], data["own"]
        last = {str(k): int(v) for k, v in t["last"].items()}
        return UnexplainedState(
            str(data["group"]),
            Decayed(int(t["at_us"]), float(t["count"]), float(t["breadth"]), last),
            int(data["hour_index"]),
            {str(p) for p in data["hour_patients"]},
            Stats(int(o["n"]), float(o["mean"]), float(o["var"])),
            deque((str(r) for r in data["recent"]), maxlen=MAX_REQUEST_IDS),
            optional_alert_from_dict(data["open_alert"]),
        )


def admit_hour(state: UnexplainedState, event: DetectionEvent, config: DetectionConfig) -> None:
    """The access's clock hour becomes the active one; an earlier active hour is folded into
    the principal's own baseline first (a late event joins the current hour)."""
    state.group = event.peer_group
    hour = event.ts_us // HOUR_US
    if state.hour_index < hour:
        _fold(state, config)
        state.hour_index = hour


def _fold(state: UnexplainedState, config: DetectionConfig) -> None:
    if state.hour_index >= 0:
        state.own = ewma(state.own, len(state.hour_patients), config.baseline_alpha)
    state.hour_index, state.hour_patients = -1, set()


def compact_state(
    state: UnexplainedState, now_us: int, config: DetectionConfig
) -> UnexplainedState | None:
    """Pure: the hour folded once it ended, stale keys forgotten, an expired alert dropped;
    the state itself when nothing changes, None when nothing is left to keep."""
    tau = config.unexplained_tau_s
    fold = 0 <= state.hour_index < now_us // HOUR_US
    cutoff = now_us - _FORGET_AFTER_TAUS * tau * 1_000_000
    stale = any(t <= cutoff for t in state.tally.last.values())
    expired = state.open_alert is not None and not state.open_alert.open_at(now_us)
    if not (fold or stale or expired):
        return state
    kept = UnexplainedAccess().copy(state)
    if fold:
        _fold(kept, config)
    if stale:
        kept.tally = forget_before(kept.tally, cutoff, tau)
    if expired:
        kept.open_alert = None
    empty = not kept.tally.last and kept.hour_index < 0 and kept.open_alert is None
    return None if empty and kept.own.n == 0 else kept


def threshold(state: UnexplainedState, config: DetectionConfig, peers: PeerBook) -> Threshold:
    """Own history once warmed up, else the peer group's, else the default floor."""
    stats, basis = None, "default floor"
    if state.own.n >= config.baseline_overall_warmup_samples:
        stats, basis = state.own, "own history"
    else:
        stats = trusted(peers, state.group, config.peer_min_members, config.peer_min_samples)
        basis = "peer group" if stats is not None else basis
    if stats is None:
        return Threshold(float(config.unexplained_floor), basis)
    raw = stats.mean + config.baseline_z_threshold * spread(stats, config.baseline_min_std)
    low, high = config.unexplained_min_floor, config.unexplained_max_floor
    return Threshold(min(max(raw, low), high), basis, stats.mean)


def _judge(
    state: UnexplainedState, event: DetectionEvent, config: DetectionConfig, peers: PeerBook
) -> Alert | None:
    limit = threshold(state, config, peers)
    breadth, rate = state.tally.breadth, state.tally.count
    by_breadth = round(breadth) >= limit.value  # rounded: 10 patients in a minute count 10
    if not by_breadth and round(rate) < config.unexplained_rate_floor:
        return None
    who = event.principal
    if by_breadth:
        what = f"{breadth:.1f} distinct patients (threshold {limit.value:.1f}, {limit.basis})"
    else:
        what = f"{rate:.1f} accesses (floor {config.unexplained_rate_floor})"
    fresh = new_alert(
        kind=KIND,
        severity=config.severity(KIND),
        principal=who,
        ts_us=state.tally.at_us,
        window_s=config.alert_window_s,
        counts=[
            ("unexplained_patients", round(breadth)),
            ("unexplained_accesses", round(rate)),
            ("threshold", round(limit.value)),
            ("distinct_patients_this_hour", len(state.hour_patients)),
        ],
        rule_version=VERSION,
        request_ids=state.recent,
        summary=f"{who}: unexplained access to {what}",
        explanation=_explanation(state, limit, config),
    )
    state.open_alert = raise_alert(state.open_alert, fresh)
    return state.open_alert


def _explanation(
    state: UnexplainedState, limit: Threshold, config: DetectionConfig
) -> list[tuple[str, str]]:
    return [
        ("baseline", limit.basis),
        ("peer_group", state.group),
        ("threshold", f"{limit.value:.1f} distinct patients (decayed, tau "
                      f"{config.unexplained_tau_s} s); or {config.unexplained_rate_floor} "
                      "accesses"),
        ("expected_per_hour", f"{limit.mean:.1f}"),
        ("unexplained", "no care team, own compartment or integration scope covers these "
                        "accesses (break-glass and a person's system grant explain none)"),
        ("evidence", "request_ids: the latest unexplained accesses"),
    ]  # fmt: skip


def _add_capped(known: set[str], new: tuple[str, ...], cap: int) -> None:
    for patient in new:
        if len(known) >= cap:
            return
        known.add(patient)
