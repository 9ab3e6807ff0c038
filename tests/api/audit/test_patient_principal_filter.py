"""`principal` narrows a patient's accesses and disclosures (and their exports) to one
principal, server-side: the console's patient view filters by principal with it."""

from tests.api.audit.conftest import AuditApp

PATIENT = "pat-00021"
SYSTEM = "system/Patient.rs"


def test_principal_narrows_a_patients_accesses_and_disclosures(audit_app: AuditApp) -> None:
    a = audit_app
    for sub in ("pf-one", "pf-two", "pf-two"):
        assert a.get(f"/fhir/Patient/{PATIENT}", headers=a.headers(sub, SYSTEM)).status_code == 200
    a.settle()
    base = f"/audit/patients/{PATIENT}"
    for view in ("accesses", "disclosures"):
        rows = a.get(f"{base}/{view}", params={"principal": "pf-two"}, headers=a.auditor)
        assert rows.status_code == 200, rows.text
        assert len(rows.json()[view]) == 2, rows.json()
    accesses = a.get(f"{base}/accesses", params={"principal": "pf-one"}, headers=a.auditor)
    assert {r["principal"]["sub"] for r in accesses.json()["accesses"]} == {"pf-one"}
    csv = a.get(f"{base}/accesses", params={"principal": "pf-one", "_format": "csv"},
                headers=a.auditor)  # fmt: skip
    assert csv.status_code == 200 and "pf-one" in csv.text and "pf-two" not in csv.text
    assert a.get(f"{base}/accesses", params={"principal": "nobody"},
                 headers=a.auditor).json()["accesses"] == []  # fmt: skip


def test_an_overlong_principal_is_refused(audit_app: AuditApp) -> None:
    url, params = f"/audit/patients/{PATIENT}/accesses", {"principal": "x" * 201}
    response = audit_app.get(url, params=params, headers=audit_app.auditor)
    assert response.status_code == 400
