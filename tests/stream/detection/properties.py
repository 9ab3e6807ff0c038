"""Hypothesis strategies shared by the detection property tests: arbitrary event streams
and a configuration with small floors, so that alerts are frequent."""

from hypothesis import strategies as st

from stream.detection import DetectionConfig, DetectionEvent
from tests.stream.detection.support import HOUR, T0, S

SMALL = DetectionConfig.from_mapping(
    {
        "bulk_spike_floor_1m": 6,
        "bulk_spike_floor_5m": 9,
        "bulk_spike_floor_1h": 12,
        "baseline_warmup_samples": 1,
        "baseline_overall_warmup_samples": 1,
        "baseline_min_distinct": 2,
        "max_tracked_patients": 14,
        "denied_burst_floor_1m": 3,
        "enumeration_not_found_floor_5m": 3,
        "enumeration_fanout_floor_5m": 4,
        "max_window_entries": 10,
        "after_hours_min_history": 5,
        "after_hours_min_span_s": 3600,
        "dormant_after_s": 600,
        "alert_window_s": 120,
    }
)
_hex = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
_patients = st.lists(_hex, min_size=4, max_size=20, unique=True)
_gaps = st.sampled_from(
    [st.integers(min_value=0, max_value=30 * S)] * 16
    + [st.integers(min_value=0, max_value=400 * S)] * 3
    + [st.sampled_from([HOUR, 11 * HOUR])]
).flatmap(lambda gap: gap)
_reasons = st.sampled_from(
    [
        ("scope.granted", "careteam.member"),
        ("scope.granted", "compartment.outside"),
        ("scope.granted", "compartment.patient"),
        ("scope.granted", "break_glass"),
        ("not_found",),
        ("scope.insufficient",),
        ("token.expired",),
    ]
)


@st.composite
def streams(draw: st.DrawFn) -> list[DetectionEvent]:
    pool = draw(_patients)
    count = draw(st.integers(min_value=0, max_value=60))
    ts, events = T0, []
    for _ in range(count):
        ts += draw(_gaps)
        touched = tuple(draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)))
        decision = draw(st.sampled_from(["allow", "allow", "partial", "deny"]))
        events.append(
            DetectionEvent(
                event_id=draw(_hex),
                request_id=draw(_hex),
                ts_us=ts,
                sub=draw(st.sampled_from(["dr-alice", "dr-bob", "", "svc-sync"])),
                client_id=draw(st.sampled_from(["ehr-app", ""])),
                decision=decision,
                status=draw(st.sampled_from([200, 202, 401, 403, 404])),
                action=draw(st.sampled_from(["read", "vread", "search", "export"])),
                resource_type="Observation",
                reasons=draw(_reasons),
                patient_hashes=touched,
                resource_hashes=tuple(draw(st.lists(_hex, max_size=2))),
                count_returned=draw(st.integers(min_value=0, max_value=3)),
                vip_patients=touched[:1] if draw(st.booleans()) else (),
                staff_patients=touched[1:2] if draw(st.booleans()) else (),
                same_surname=draw(st.booleans()),
            )
        )
    return events
