"""DetectionEvent from an evidence row (the real pipeline's row) and enrichment."""

import pytest

from evidence.core import Decision
from stream.detection import DetectionEvent, detection_event_from_row
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows


def real_row(**overrides: object) -> dict[str, object]:
    return sealed_rows([make_event(7, **overrides)])[0]


def test_built_from_a_sealed_evidence_row() -> None:
    row = real_row(reasons=("scope.granted", "break_glass"), count_returned=3)
    event = detection_event_from_row(row)
    assert event.event_id == row["event_id"] and event.request_id == row["request_id"]
    assert event.ts_us == row["ts_us"] and event.sub == "dr-alice"
    assert event.client_id == "ehr-app" and event.decision == "allow" and event.status == 200
    assert event.action == "search" and event.resource_type == "Observation"
    assert event.reasons == ("scope.granted", "break_glass")
    assert event.patient_hashes == (PSEUDONYMIZER.patient("pat-0000"),)
    assert event.resource_hashes == tuple(row["resource_hashes"])  # type: ignore[arg-type]
    assert event.purpose_of_use == "TREAT" and event.count_returned == 3
    assert event.vip_patients == () and event.staff_patients == () and not event.same_surname


def test_enrichment_is_carried() -> None:
    vip = PSEUDONYMIZER.patient("pat-0000")
    enrichment = {"vip_patients": [vip], "staff_patients": [], "same_surname": True}
    event = detection_event_from_row(real_row(), enrichment)
    assert event.vip_patients == (vip,) and event.same_surname is True


def test_unknown_enrichment_and_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown enrichment"):
        detection_event_from_row(real_row(), {"vip_patient": []})
    with pytest.raises(ValueError, match="boolean"):
        detection_event_from_row(real_row(), {"same_surname": "yes"})
    with pytest.raises(ValueError, match="list of strings"):
        detection_event_from_row(real_row(), {"vip_patients": "abc"})


def test_a_row_without_its_identity_is_refused() -> None:
    row = real_row()
    del row["ts_us"]
    with pytest.raises(ValueError, match="ts_us"):
        detection_event_from_row(row)


def test_minimal_row_gets_defaults() -> None:
    event = detection_event_from_row({"event_id": "e", "ts_us": 5, "decision": "deny"})
    assert event == DetectionEvent("e", "", 5, "", "", "deny", 0, "", "", peer_group="none:-@-")


@pytest.mark.parametrize(
    ("sub", "client_id", "principal"),
    [("dr-a", "app", "dr-a"), ("", "app", "client:app"), ("", "", "anonymous")],
)
def test_principal(sub: str, client_id: str, principal: str) -> None:
    row = real_row(sub=sub, client_id=client_id)
    assert detection_event_from_row(row).principal == principal


@pytest.mark.parametrize(
    ("decision", "returned", "expected"),
    [
        (Decision.ALLOW, 1, True),
        (Decision.PARTIAL, 2, True),
        (Decision.ALLOW, 0, False),
        (Decision.DENY, 1, False),
    ],
)
def test_returned_data(decision: Decision, returned: int, expected: bool) -> None:
    row = real_row(decision=decision, count_returned=returned)
    assert detection_event_from_row(row).returned_data is expected
