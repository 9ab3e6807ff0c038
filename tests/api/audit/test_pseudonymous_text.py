"""Through the real app: patient ids inside granular scopes and inside an auditor's reason
for acting on an alert never reach the evidence store raw."""

import json
import time

from evidence.store import alert_actions
from tests.api.audit.conftest import AuditApp

PATIENT = "pat-00026"
NOW_US = int(time.time() * 1_000_000)


def test_scope_values_are_pseudonymised(audit_app: AuditApp) -> None:
    a = audit_app
    scope = " ".join((
        f"patient/Patient.rs?_id={PATIENT}", f"system/Observation.rs?subject=Patient/{PATIENT}",
        f"user/Condition.rs?patient={PATIENT}", f"Patient/{PATIENT}", "system/Patient.rs",
    ))  # fmt: skip
    read = a.get(f"/fhir/Patient/{PATIENT}", headers=a.headers("scoped-1", scope))
    assert read.status_code == 200
    stored = a.evidence(read.headers["x-request-id"])
    everything = json.dumps(stored)
    assert PATIENT not in everything
    pseudonym = a.get(f"/audit/patients/{PATIENT}/accesses", headers=a.auditor).json()
    assert (
        f"system/Observation.rs?subject=Patient/{pseudonym['patient_pseudonym']}"
        in (stored["scopes_granted"])
    )
    assert "system/Patient.rs" in stored["scopes_used"]


def test_alert_action_reasons_are_scrubbed(audit_app: AuditApp) -> None:
    a = audit_app
    alert_id = "al-scrub-1"
    a.runtime.store.upsert_alerts([{
        "alert_id": alert_id, "kind": "export", "severity": "medium", "principal": "x",
        "first_seen_us": NOW_US, "last_seen_us": NOW_US, "window_start_us": NOW_US,
        "window_s": 3600, "counts": "{}", "rule_version": "1", "request_ids": [],
        "summary": "scrub",
    }])  # fmt: skip
    reason = (f"checked Patient/{PATIENT} (MRN0000026, https://h.example/fhir/Patient/{PATIENT})"
              " with the ward: legitimate")  # fmt: skip
    headers = a.headers("acts-1", "system/AuditEvent.rus")
    acted = a.client.post(f"/audit/alerts/{alert_id}/acknowledge", headers=headers,
                          json={"reason": reason})  # fmt: skip
    assert acted.status_code == 200, acted.text
    (kept,) = alert_actions.actions(a.runtime.store, alert_id)
    assert PATIENT not in kept.reason and "MRN0000026" not in kept.reason
    assert kept.reason.startswith("checked Patient/") and kept.reason.endswith("legitimate")
    shown = a.get(f"/audit/alerts/{alert_id}", headers=a.auditor)
    assert PATIENT not in shown.text
