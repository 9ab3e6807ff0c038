"""GET /audit/principals/{sub}/activity on the real app: hourly counts against the baseline,
auditor scope only, audited like every auditor read, counts only (no patient identifier).

The evidence rows of the probe principal are sealed test rows of a producer of their own,
stamped in the past (the API stamps its own events with the present)."""

import time
from typing import Any

import pytest

from api.audit.activity import HOUR_US, floor_hour
from api.audit.views import iso_from_us
from evidence.core import AccessEvent, Decision
from tests.api.audit.conftest import AuditApp
from tests.evidence.builders import PSEUDONYMIZER, make_event, sealed_rows

SUB = "activity-probe"
H0 = floor_hour(int(time.time() * 1_000_000)) - 2 * 24 * HOUR_US  # two days ago, whole hour
DAY = 24 * HOUR_US
URL = f"/audit/principals/{SUB}/activity"
PERIOD = {"since": iso_from_us(H0), "until": iso_from_us(H0 + 3 * HOUR_US)}


def _event(n: int, ts_us: int, patients: tuple[str, ...], sub: str = SUB,
           **overrides: Any) -> AccessEvent:  # fmt: skip
    return make_event(900_000 + n, ts_us=ts_us, sub=sub, patient_ids=patients, **overrides)


def _events() -> list[AccessEvent]:
    denied = {"decision": Decision.DENY, "status": 403, "reasons": ("careteam.not_member",)}
    glass = {"purpose_of_use": "ETREAT", "reasons": ("scope.granted", "break_glass")}
    spec: list[tuple[int, tuple[str, ...], dict[str, Any]]] = [
        (H0 - 8 * DAY, tuple(f"x{n}" for n in range(20)), {}),  # before the baseline window
        (H0 - 3 * DAY, ("b1", "b2", "b3", "b4", "b5", "b6"), {}),
        (H0 - 2 * DAY, ("b1", "b2"), {}),
        (H0 - DAY, ("b1", "b2", "b3", "b4"), {}),
        (H0 + 10, ("pa", "pb"), {}),
        (H0 + 20, ("pb",), {}),
        (H0 + 30, ("pc",), denied),
        (H0 + 2 * HOUR_US + 5, ("pd",), glass),
    ]
    events = [_event(n, ts, patients, **extra) for n, (ts, patients, extra) in enumerate(spec)]
    events.append(_event(99, H0 + 40, ("pe", "pf"), sub="someone-else"))
    return events


@pytest.fixture(scope="module")
def probe(audit_app: AuditApp) -> AuditApp:
    rows = sealed_rows(_events(), producer_id="activity-probe")
    audit_app.runtime.store.insert_rows(rows, dedup_token="activity-probe:1")
    return audit_app


def test_hourly_counts_against_the_baseline(probe: AuditApp) -> None:
    response = probe.get(URL, params=PERIOD, headers=probe.auditor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["principal"] == SUB and body["bucket_seconds"] == 3600
    assert body["period"] == {"start": iso_from_us(H0), "end": iso_from_us(H0 + 3 * HOUR_US)}
    counts = [(b["distinct_patients"], b["requests"], b["denials"], b["break_glass"])
              for b in body["buckets"]]  # fmt: skip
    assert counts == [(3, 3, 1, 0), (0, 0, 0, 0), (1, 1, 0, 1)]
    assert body["baseline"]["value"] == 4 and body["baseline"]["active_hours"] == 3
    assert body["totals"]["requests"] == 4 and body["totals"]["peak_distinct_patients"] == 3
    [use] = body["break_glass_uses"]
    assert use["time"] == iso_from_us(H0 + 2 * HOUR_US + 5)
    assert use["request_id"] == f"req-{900_007:06d}"


def test_no_patient_identifier_in_the_answer(probe: AuditApp) -> None:
    text = probe.get(URL, params=PERIOD, headers=probe.auditor).text
    for patient in ("pa", "pb", "pc", "pd", "b1", "b2"):
        assert PSEUDONYMIZER.patient(patient) not in text
        assert f'"{patient}"' not in text
    assert "patient_pseudonyms" not in text and "patient_hashes" not in text


def test_only_auditors_may_read_it(probe: AuditApp) -> None:
    assert probe.get(URL).status_code == 401
    patient = probe.headers("pat", "patient/AuditEvent.rs", patient="pat-00001")
    assert probe.get(URL, headers=patient).status_code == 403
    clinician = probe.headers("doc", "user/*.rs", fhirUser="Practitioner/prac-00001")
    assert probe.get(URL, headers=clinician).status_code == 403


def test_the_read_is_audited(probe: AuditApp) -> None:
    response = probe.get(URL, params=PERIOD, headers=probe.auditor)
    event = probe.evidence(response.headers["x-request-id"])["events"][0]
    assert event["action"] == "audit.principal_activity"
    assert event["resource_type"] == "AuditEvent" and event["decision"] == "allow"
    assert event["count_returned"] == 3
    assert event["principal"]["sub"] == "auditor-x"
    assert sorted(event["query_params"]) == ["since", "until"]


def test_the_default_period_is_the_last_24_hours(probe: AuditApp) -> None:
    body = probe.get(URL, headers=probe.auditor).json()
    assert len(body["buckets"]) == 24
    assert body["buckets"][-1]["start"] <= iso_from_us(int(time.time() * 1_000_000))


@pytest.mark.parametrize("params", [
    {"since": "yesterday"},
    {"since": iso_from_us(H0), "until": iso_from_us(H0)},
    {"since": iso_from_us(H0 - 40 * DAY), "until": iso_from_us(H0)},
])  # fmt: skip
def test_bad_periods_answer_400(probe: AuditApp, params: dict[str, str]) -> None:
    response = probe.get(URL, params=params, headers=probe.auditor)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_probe_rows_keep_the_evidence_intact(probe: AuditApp) -> None:
    report = probe.get("/audit/verify", headers=probe.auditor).json()
    assert report["intact"], report
