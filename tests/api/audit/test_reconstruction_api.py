"""The reconstruction API through the real app: requests are driven through the FHIR API,
then the auditor endpoints must tell exactly what was done (filters, paging, exports, the
accounting of disclosures, one request's lifecycle), and every auditor read is evidence."""

import csv
import io
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from tests.api.audit.conftest import AuditApp

SYSTEM = "system/*.rs"
BODY = {"Content-Type": "application/fhir+json"}


def rid(response: Any) -> str:
    return str(response.headers["x-request-id"])


def listed(app: AuditApp, url: str, key: str = "accesses") -> list[dict[str, Any]]:
    """Every entry of an auditor list, following its next links."""
    entries: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = app.get(next_url, headers=app.auditor)
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body[key]
        next_url = body.get("next")
    return entries


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["request_id"] for e in entries]


@pytest.fixture(scope="module")
def principal_log(audit_app: AuditApp) -> dict[str, str]:
    """What one principal did (request ids by what it was), from two client apps."""
    a = audit_app
    ok = a.headers("filter-sys", "system/Patient.rs system/Observation.rs")
    other = a.headers("filter-sys", "system/Patient.rs", client_id="other-app")
    done = {
        "read": (a.get("/fhir/Patient/pat-00001", headers=ok), 200),
        "search": (a.get("/fhir/Observation?patient=pat-00001&_count=2", headers=ok), 200),
        "forbidden": (a.get("/fhir/Condition?_count=1", headers=ok), 403),
        "missing": (a.get("/fhir/Patient/pat-99999", headers=ok), 404),
        "other": (a.get("/fhir/Patient/pat-00002", headers=other), 200),
    }
    for name, (response, status) in done.items():
        assert response.status_code == status, name
    a.settle()
    return {name: rid(response) for name, (response, _) in done.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"read", "search", "forbidden", "missing", "other"}),
        ("decision=deny", {"forbidden", "missing"}),
        ("decision=allow,partial", {"read", "search", "other"}),
        ("action=search", {"search", "forbidden"}),
        ("resource_type=Patient", {"read", "missing", "other"}),
        ("client=other-app", {"other"}),
        ("decision=allow&action=read&client=test-client", {"read"}),
    ],
)
def test_principal_filters(
    audit_app: AuditApp, principal_log: dict[str, str], query: str, expected: set[str]
) -> None:
    got = ids(listed(audit_app, f"/audit/principals/filter-sys/accesses?{query}"))
    assert sorted(got) == sorted(principal_log[name] for name in expected)


def test_patient_filters(audit_app: AuditApp, principal_log: dict[str, str]) -> None:
    url = "/audit/patients/pat-00001/accesses?client=test-client&decision=allow"
    got = ids(listed(audit_app, url))
    assert {principal_log["read"], principal_log["search"]} <= set(got)
    assert principal_log["other"] not in got


def test_time_window_and_paging(audit_app: AuditApp, principal_log: dict[str, str]) -> None:
    a = audit_app
    everything = listed(a, "/audit/principals/filter-sys/accesses")
    assert len(everything) == 5
    times = [e["time"] for e in everything]
    assert times == sorted(times, reverse=True)  # newest first
    for size in ("_count=2", "limit=2"):
        first = a.get(f"/audit/principals/filter-sys/accesses?{size}", headers=a.auditor).json()
        assert len(first["accesses"]) == 2 and "next" in first
        assert ids(listed(a, f"/audit/principals/filter-sys/accesses?{size}")) == ids(everything)
    since, until = times[3], times[1]  # [since, until): the 4th, 3rd and 2nd newest
    window = listed(
        a, "/audit/principals/filter-sys/accesses?" + urlencode({"since": since, "until": until})
    )
    assert ids(window) == ids(everything)[2:4]
    paged = a.get("/audit/principals/filter-sys/accesses?decision=deny&_count=1",
                  headers=a.auditor).json()  # fmt: skip
    assert "decision=deny" in paged["next"]  # the filters travel with the page
    changed = paged["next"].replace("decision=deny", "decision=allow")
    assert a.get(changed, headers=a.auditor).status_code == 400  # cursor bound to the filters
    bad = a.get("/audit/principals/filter-sys/accesses?decision=maybe", headers=a.auditor)
    assert bad.status_code == 400


def test_exports_stream_what_the_list_holds(audit_app: AuditApp) -> None:
    a = audit_app
    formula = "=HYPERLINK(1)"
    for n in range(4):
        assert a.get(
            f"/fhir/Patient/pat-0000{n + 3}", headers=a.headers(formula, SYSTEM)
        ).is_success
    a.settle()
    url = f"/audit/principals/{formula}/accesses"
    expected = ids(listed(a, url))
    assert len(expected) == 4
    for extra, headers in (("?_format=ndjson", {}), ("", {"Accept": "application/x-ndjson"})):
        response = a.get(url + extra, headers={**a.auditor, **headers})
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in response.text.splitlines()]
        assert ids(lines) == expected and lines[0]["principal"]["sub"] == formula
        assert a.evidence(rid(response))["count_returned"] == 4  # the export is evidence too
    for extra, headers in (("?_format=csv", {}), ("", {"Accept": "text/csv"})):
        response = a.get(url + extra, headers={**a.auditor, **headers})
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert [r[header.index("request_id")] for r in rows] == expected
        assert {r[header.index("principal")] for r in rows} == {"'" + formula}
    patient = a.get("/audit/patients/pat-00003/accesses?_format=csv", headers=a.auditor)
    assert patient.status_code == 200 and patient.text.startswith("time,request_id")
    bad = a.get(url + "?_format=xml", headers=a.auditor)
    assert bad.status_code == 400


def test_disclosures_report_what_was_done(audit_app: AuditApp) -> None:
    """Drive disclosures and non-disclosures of one patient, then compare the report."""
    a = audit_app
    patient = "pat-00011"
    ops = a.headers("ops-app", SYSTEM, purpose_of_use="HOPERAT", client_id="ops-client")
    nurse = a.headers("nurse-1", SYSTEM)
    writer = a.headers("writer-1", "system/Observation.cruds")
    read = a.get(f"/fhir/Patient/{patient}", headers=ops)
    search = a.get(f"/fhir/Observation?patient={patient}&_count=5", headers=nurse)
    assert read.status_code == search.status_code == 200
    disclosed = {rid(read): (read, 1), rid(search): (search, len(search.json()["entry"]))}
    other_patient = a.headers("pt", "patient/*.rs", patient="pat-00012")
    note = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "note"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    not_disclosed = [
        a.get(f"/fhir/Patient/{patient}", headers=a.headers("p", "system/Practitioner.rs")),
        a.get(f"/fhir/Patient/{patient}", headers=other_patient),
        a.get(f"/fhir/Observation?patient={patient}&code=none-such", headers=nurse),
        a.client.post("/fhir/Observation", headers={**writer, **BODY}, content=orjson.dumps(note)),
    ]
    assert [r.status_code for r in not_disclosed] == [403, 404, 200, 201]
    a.settle()
    auditor_read = a.get(f"/audit/patients/{patient}/accesses", headers=a.auditor)
    # read, search, the hidden read and the create; the 403 and the empty search name no patient
    assert len(auditor_read.json()["accesses"]) == 4
    a.settle()
    report = a.get(f"/audit/patients/{patient}/disclosures", headers=a.auditor)
    assert report.status_code == 200
    body = report.json()
    assert body["period"]["start"][:4] == str(int(body["period"]["end"][:4]) - 6)
    assert sorted(d["request_id"] for d in body["disclosures"]) == sorted(disclosed)
    for entry in body["disclosures"]:
        response, count = disclosed[entry["request_id"]]
        assert entry["disclosed"]["count_returned"] == count
        assert entry["date"] <= a.evidence(rid(response))["recorded_at"]
    by_id = {d["request_id"]: d for d in body["disclosures"]}
    ops_entry = by_id[rid(read)]
    assert ops_entry["recipient"]["principal"] == "ops-app"
    assert ops_entry["recipient"]["client"] == "ops-client"
    assert ops_entry["purpose"] == {"code": "HOPERAT", "display": "healthcare operations"}
    assert ops_entry["description"].startswith("read of Patient: 1 returned")
    assert by_id[rid(search)]["description"].startswith(
        f"search of Observation: {disclosed[rid(search)][1]}"
    )
    audited = listed(a, f"/audit/patients/{patient}/disclosures?include_audit=true", "disclosures")
    assert sorted(ids(audited)) == sorted([*disclosed, rid(auditor_read), rid(report)])
    table = a.get(f"/audit/patients/{patient}/disclosures?_format=csv", headers=a.auditor)
    header, *rows = list(csv.reader(io.StringIO(table.text)))
    assert header[:3] == ["date", "recipient_principal", "recipient_client"]
    assert sorted(r[header.index("request_id")] for r in rows) == sorted(disclosed)
    recent = a.get(f"/audit/patients/{patient}/disclosures?since=2999-01-01T00:00:00Z",
                   headers=a.auditor)  # fmt: skip
    assert recent.json()["disclosures"] == []


def test_patient_token_reads_only_its_own_disclosures(audit_app: AuditApp) -> None:
    a = audit_app
    own = a.headers("pt-self", "patient/AuditEvent.rs", patient="pat-00011")
    assert a.get("/audit/patients/pat-00011/disclosures", headers=own).status_code == 200
    assert a.get("/audit/patients/pat-00012/disclosures", headers=own).status_code == 403


def test_request_lifecycle_with_its_alert(audit_app: AuditApp) -> None:
    a = audit_app
    glass = a.headers("dr-glass", "user/*.rs", fhirUser="Practitioner/prac-0001",
                      purpose_of_use="ETREAT")  # fmt: skip
    response = a.get("/fhir/Patient/pat-00020", headers=glass)
    assert response.status_code == 200
    request_id = rid(response)

    def with_alert() -> dict[str, Any] | None:
        body = a.evidence(request_id)
        return body if body["alerts"] else None

    body = a.wait(with_alert)
    assert body["request_id"] == request_id and body["decision"] == "allow"
    assert "break_glass" in body["reasons"] and body["policy_version"]
    assert body["scopes_used"] == ["user/*.rs"] and body["count_returned"] == 1
    assert {"count_withheld", "count_redacted"} <= set(body)
    (alert,) = [al for al in body["alerts"] if al["kind"] == "break_glass"]
    assert request_id in alert["request_ids"]
    stages = {s["stage"]: s for s in body["lifecycle"]}
    assert stages["authentication"]["outcome"] == "accepted"
    assert stages["authorization"]["break_glass"] is True
    assert stages["alerts"]["alert_ids"] == [al["id"] for al in body["alerts"]]
    assert body["proof"] == f"http://testserver/audit/requests/{request_id}/proof"
    (auditevent_url,) = body["auditevents"]
    assert a.get(auditevent_url, headers=a.auditor).status_code == 200
    assert a.get("/audit/requests/no-such-request", headers=a.auditor).status_code == 404


AUDITOR_READS = [
    ("/audit/patients/pat-00001/accesses", "audit.patient_accesses", "AuditEvent"),
    ("/audit/patients/pat-00001/accesses?_format=ndjson", "audit.patient_accesses", "AuditEvent"),
    ("/audit/patients/pat-00001/disclosures", "audit.patient_disclosures", "AuditEvent"),
    ("/audit/principals/filter-sys/accesses?_format=csv", "audit.principal_accesses", "AuditEvent"),
    ("/audit/alerts", "audit.alerts", "AuditEvent"),
    ("/audit/verify", "audit.verify", "AuditEvent"),
    ("/fhir/AuditEvent?agent=filter-sys", "search", "AuditEvent"),
    ("/fhir/AuditEvent?patient=pat-00001", "search", "AuditEvent"),
]


@pytest.mark.parametrize(("url", "action", "rtype"), AUDITOR_READS)
def test_every_auditor_read_is_its_own_evidence(
    audit_app: AuditApp, principal_log: dict[str, str], url: str, action: str, rtype: str
) -> None:
    a = audit_app
    auditor = a.headers("auditor-self", "system/AuditEvent.rs")
    response = a.get(url, headers=auditor)
    assert response.status_code == 200, response.text
    evidence = a.evidence(rid(response))
    assert evidence["principal"]["sub"] == "auditor-self"
    assert (evidence["action"], evidence["resource_type"]) == (action, rtype)
    assert evidence["decision"] == "allow" and evidence["status"] == 200
    mine = listed(a, "/audit/principals/auditor-self/accesses")
    assert rid(response) in ids(mine)
