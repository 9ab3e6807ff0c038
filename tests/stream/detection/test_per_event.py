"""break_glass, export, vip_access, staff_record_access, same_surname."""

import pytest

from tests.stream.detection.support import HOUR, MIN, T0, S, denial, event, of_kind, pseudo, run

VIP = pseudo("vip-patient")
STAFF = pseudo("staff-patient")
OUTSIDE = ("scope.granted", "compartment.outside")


def test_every_break_glass_access_updates_one_alert_per_hour() -> None:
    glass = ("scope.granted", "break_glass")
    events = [event(i, T0 + i * 10 * MIN, reasons=glass) for i in range(7)]  # 0 .. 60 min
    alerts = of_kind(run(events)[1], "break_glass")
    assert [a.window_start_us for a in alerts] == [T0, T0 + HOUR]
    first, second = alerts
    assert dict(first.counts) == {"events": 6, "distinct_patients": 6}
    assert first.request_ids == tuple(e.request_id for e in events[:6])
    assert first.last_seen_us == T0 + 50 * MIN and first.severity == "medium"
    assert dict(second.counts) == {"events": 1, "distinct_patients": 1}
    assert first.summary == "dr-alice: break-glass access (6 in window, 6 patients)"


def test_denied_break_glass_is_still_flagged() -> None:
    events = [denial(0, T0, reasons=("break_glass", "label.withheld"))]
    assert len(of_kind(run(events)[1], "break_glass")) == 1


def test_export_kick_offs() -> None:
    kick_off = event(0, T0, action="export", status=202, patient_hashes=(), count_returned=0)
    refused = denial(1, T0 + S, action="export", reasons=("export.not_permitted",))
    poll = event(2, T0 + 2 * S, action="export.status", status=200)
    [alert] = of_kind(run([kick_off, refused, poll])[1], "export")
    assert alert.count("events") == 1 and alert.request_ids == ("req-000000",)
    second = event(3, T0 + MIN, action="export", status=202, patient_hashes=())
    [alert] = of_kind(run([kick_off, second])[1], "export")
    assert alert.count("events") == 2


@pytest.mark.parametrize(
    ("kind", "field", "patient"),
    [("vip_access", "vip_patients", VIP), ("staff_record_access", "staff_patients", STAFF)],
)
def test_flagged_patients_without_a_treating_relationship(
    kind: str, field: str, patient: str
) -> None:
    touched = {"patient_hashes": (patient,), field: (patient,)}
    snoop = event(0, T0, reasons=OUTSIDE, **touched)
    [alert] = of_kind(run([snoop])[1], kind)
    assert alert.count("distinct_patients") == 1 and alert.severity == "high"
    assert patient not in alert.summary
    treating = [
        event(1, T0, reasons=("scope.granted", "careteam.member"), **touched),
        event(2, T0, reasons=("scope.granted", "compartment.patient"), **touched),
        event(3, T0, reasons=OUTSIDE, count_returned=0, **touched),
        event(4, T0, decision="deny", status=403, count_returned=0, **touched),
        event(5, T0, reasons=OUTSIDE, patient_hashes=(patient,)),  # not flagged
    ]
    assert of_kind(run(treating)[1], kind) == []


def test_same_surname_on_allowed_access_only() -> None:
    lookup = event(0, T0, same_surname=True, reasons=("scope.granted", "system.access"))
    [alert] = of_kind(run([lookup])[1], "same_surname")
    assert alert.count("events") == 1 and alert.severity == "medium"
    quiet = [
        event(1, T0, same_surname=False),
        denial(2, T0, same_surname=True),
        event(3, T0, same_surname=True, count_returned=0),
        event(4, T0, same_surname=True, reasons=("scope.granted", "compartment.patient")),
        event(5, T0, same_surname=True, reasons=("scope.granted", "careteam.member")),
    ]
    assert of_kind(run(quiet)[1], "same_surname") == []


def test_a_late_event_joins_the_open_episode() -> None:
    glass = ("scope.granted", "break_glass")
    events = [event(0, T0 + 10 * MIN, reasons=glass), event(1, T0 + 5 * MIN, reasons=glass)]
    [alert] = of_kind(run(events)[1], "break_glass")
    assert alert.window_start_us == T0 + 10 * MIN and alert.first_seen_us == T0 + 5 * MIN
    assert alert.count("events") == 2 and alert.request_ids == ("req-000000", "req-000001")
