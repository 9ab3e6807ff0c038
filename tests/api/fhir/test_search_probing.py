"""Search probing: a search naming a patient the caller may not see answers exactly as before
(the empty searchset: nothing leaks), and its evidence names that patient by the same keyed
pseudonym as any patient id, with `search.patient_outside_reach` (issue 16).

Pure part: over every reference form the search parser accepts (`id`, `Patient/id`, comma
alternatives, repeated parameters, `patient`/`subject`, `_id` of a Patient search), the
patients named are exactly those written, and a search naming only reachable patients
never records a probe."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.fhir.probes import named_patients, outside_reach
from api.fhir.search import parse_search
from api.http.request_audit import RequestAudit
from api.security.access import PatientReach, Reach
from api.security.verdict import allow
from evidence.core import Pseudonymizer
from evidence.core.record import evidence_payload
from tests.api.fhir.conftest import DOC, A, App, B
from tests.support import wait_for

IDS = st.sampled_from([A, B, "pat-00003", "x-1", "absent.9"])
PSEUDONYMIZER = Pseudonymizer(b"a key of at least sixteen bytes", 1)


@st.composite
def searches(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], set[str]]:
    """(type, params, the patient ids they name) in every accepted reference form."""
    rtype = draw(st.sampled_from(["Observation", "Condition", "Encounter", "Patient"]))
    names = ["_id"] if rtype == "Patient" else ["patient", "subject"]
    params, named = [], set()
    for _ in range(draw(st.integers(1, 3))):
        ids = draw(st.lists(IDS, min_size=1, max_size=3))
        forms = [i if rtype == "Patient" else draw(st.sampled_from([i, f"Patient/{i}"]))
                 for i in ids]  # fmt: skip
        params.append((draw(st.sampled_from(names)), ",".join(forms)))
        named.update(ids)
    params.append(("_count", "5"))
    return rtype, params, named


@settings(max_examples=60, deadline=None)
@given(searches(), st.sampled_from(list(Reach)), IDS)
def test_every_form_names_its_patients_and_reachable_ones_are_no_probe(
    search: tuple[str, list[tuple[str, str]], set[str]], kind: Reach, own: str
) -> None:
    rtype, params, expected = search
    named = named_patients(rtype, parse_search(rtype, params).criteria)
    assert set(named) == expected and len(named) == len(set(named))
    team = {own}
    reach = PatientReach(kind, patient=own, practitioner=DOC)
    probed = outside_reach(reach, named, lambda _doc, p: p in team)
    reachable = {Reach.ALL: expected, Reach.NONE: set()}.get(kind, {own})
    assert set(probed) == expected - reachable
    if expected <= reachable:
        assert probed == ()  # naming only reachable patients never records a probe
    not_patients = [("subject", "Group/g1")] if rtype != "Patient" else [("name", "x")]
    assert named_patients(rtype, parse_search(rtype, not_patients).criteria) == ()


def test_probed_patients_get_the_patient_pseudonym() -> None:
    record = RequestAudit("r1", "t1", "GET")
    record.probed([B, B, "pat-00003"])
    record.conclude(allow())
    event = record.to_event("e1", 1_700_000_000_000_000, "/fhir/{resource_type}", 200)
    payload = evidence_payload(event, PSEUDONYMIZER)
    assert payload["probed_patient_hashes"] == sorted(
        PSEUDONYMIZER.patient(p) for p in (B, "pat-00003")
    )
    assert B not in str(payload) and payload["schema_version"] == 5


def _evidence(app: App, request_id: str) -> dict[str, Any]:
    auditor = app.bearer("prop-auditor", "system/AuditEvent.rs")

    def found() -> dict[str, Any] | None:
        answer = app.client.get(f"/audit/requests/{request_id}", headers=auditor)
        events = answer.json().get("events", []) if answer.status_code == 200 else []
        return events[0] if events else None

    event: dict[str, Any] = wait_for(found, timeout=10.0)
    return event


def test_a_probe_answers_as_before_and_is_recorded(app: App) -> None:
    patient, doctor = app.tokens["patient"], app.tokens["user"]
    probe = app.client.get(f"/fhir/Observation?patient=Patient/{B}&_count=5", headers=patient)
    absent = app.client.get("/fhir/Observation?patient=nobody-9&_count=5", headers=patient)
    for answer in (probe, absent):  # the same empty searchset: nothing tells them apart
        body = answer.json()
        assert answer.status_code == 200 and body["total"] == 0 and "entry" not in body
    recorded = _evidence(app, probe.headers["X-Request-ID"])
    assert recorded["probed_patient_pseudonyms"] == [PSEUDONYM_OF(app, B)]
    assert "search.patient_outside_reach" in recorded["reasons"]
    assert recorded["decision"] == "partial" and recorded["count_returned"] == 0
    own = app.client.get(f"/fhir/Observation?subject={A}&_count=5", headers=doctor)
    mine = _evidence(app, own.headers["X-Request-ID"])
    assert mine["probed_patient_pseudonyms"] == []
    assert "search.patient_outside_reach" not in mine["reasons"]
    other = app.client.get(f"/fhir/Patient?_id={A},{B}", headers=doctor)
    assert [e["resource"]["id"] for e in other.json()["entry"]] == [A]
    assert _evidence(app, other.headers["X-Request-ID"])["probed_patient_pseudonyms"] == [
        PSEUDONYM_OF(app, B)
    ]


def PSEUDONYM_OF(app: App, patient_id: str) -> str:
    """The keyed pseudonym the server gives a patient id: read back from a plain read."""
    system = app.tokens["system"]
    answer = app.client.get(f"/fhir/Patient/{patient_id}", headers=system)
    return str(_evidence(app, answer.headers["X-Request-ID"])["patient_pseudonyms"][0])


def test_probing_and_unexplained_access_raise_alerts_that_explain_themselves(app: App) -> None:
    """Through the real pipeline: a patient app probing 10 other patients, and a person's
    admin login (system scope with a fhirUser) reading 10 patients it has no relationship
    with, each raise their own kind, with the rule, baseline and evidence behind it."""
    prober = app.bearer("probing-app", "patient/*.rs", patient=A)
    admin = app.bearer("admin-login", "system/Patient.rs", fhirUser="Practitioner/adm-1")
    others = [f"pat-{n:05d}" for n in range(2, 12)]
    for other in others:
        assert app.client.get(f"/fhir/Condition?patient={other}", headers=prober).status_code == 200
    read = 0
    for n in range(2, 30):  # 10 reads that return data (labelled records stay hidden: 404)
        read += app.client.get(f"/fhir/Patient/pat-{n:05d}", headers=admin).status_code == 200
        if read == 10:
            break
    auditor = app.bearer("prop-auditor", "system/AuditEvent.rs")

    def alert(kind: str, who: str) -> dict[str, Any] | None:
        answer = app.client.get(f"/audit/alerts?kind={kind}&principal={who}", headers=auditor)
        found = answer.json().get("alerts", []) if answer.status_code == 200 else []
        return found[0] if found else None

    probing = wait_for(lambda: alert("search_probing", "probing-app"), timeout=10.0)
    assert probing["counts"]["probed_patients"] == 10 and len(probing["request_ids"]) == 10
    assert probing["explanation"]["rule"] == "search_probing"
    snooping = wait_for(lambda: alert("unexplained_access", "admin-login"), timeout=10.0)
    assert snooping["explanation"]["baseline"] == "default floor"
    assert snooping["explanation"]["peer_group"].startswith("system:Practitioner@")
    assert len(snooping["request_ids"]) == 10
