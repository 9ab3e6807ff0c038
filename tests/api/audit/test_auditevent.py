"""The BALP renderer (pure) over evidence rows built by the real pipeline: every kind of row
renders as a valid R4 AuditEvent (fhir.resources R4B models), in the pattern BALP gives it,
claiming in `meta.profile` exactly the BALP profiles its shape follows, and nothing beyond the
row's pseudonyms reaches it."""

import base64
import dataclasses
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

from api.audit import balp
from api.audit.auditevent import Server, auditevent, event_parts, split_id
from api.audit.balp_profiles import PROFILE_BASE
from evidence.core import AccessEvent, Decision
from tests.evidence.builders import PSEUDONYMIZER, access_events, make_event, sealed_rows

SERVER = Server("https://fhir.example.org")
AUDIT_EVENT = get_fhir_model_class("AuditEvent")
RAW_MARK = "RAWPAT"


def row_of(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"patient_ids": (f"{RAW_MARK}-1",), "resource_ids": ()}
    values.update(overrides)
    return sealed_rows([make_event(1, **values)])[0]


def rendered(row: dict[str, Any], part: int = 0) -> dict[str, Any]:
    body = auditevent(row, SERVER, part)
    AUDIT_EVENT.model_validate(body)
    assert RAW_MARK not in orjson.dumps(body).decode()
    return body


def codes(concept: list[dict[str, Any]] | dict[str, Any]) -> set[str]:
    items = concept if isinstance(concept, list) else concept["coding"]
    return {c["code"] for c in items}


def agent(body: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [a for a in body["agent"] if code in codes(a["type"])]
    return found


def entities(body: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("entity", []) if e.get("role") == role]


def extension(body: dict[str, Any], url: str) -> dict[str, list[Any]]:
    (ext,) = [e for e in body["extension"] if e["url"] == url]
    values: dict[str, list[Any]] = {}
    for part in ext["extension"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        values.setdefault(part["url"], []).append(value)
    return values


def profiles(body: dict[str, Any]) -> list[str]:
    return [p.removeprefix(PROFILE_BASE) for p in body.get("meta", {}).get("profile", [])]


JTI_POLICY = f"urn:ietf:params:oauth:jti:sha256:{'ab' * 16}"


def test_allowed_read_follows_balp_patient_read() -> None:
    row = row_of(
        action="read",
        route="/fhir/{resource_type}/{resource_id}",
        resource_type="Observation",
        resource_ids=(f"Observation/obs-{RAW_MARK}",),
        query_params=(),
    )
    body = rendered(row)
    assert body["id"] == "evt-000001" and body["action"] == "R" and body["outcome"] == "0"
    assert body["type"]["code"] == "rest" and codes(body["subtype"]) == {"read"}
    assert codes(agent(body, "110150")["type"]) == {"110152", "110150"}  # client: destination
    assert agent(body, "110153")["network"]["address"] == SERVER.fhir_base  # server: source
    user = agent(body, "UserOauthAgent")
    assert user["requestor"] is True and user["who"]["identifier"]["value"] == "dr-alice"
    assert user["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"
    assert user["policy"] == [JTI_POLICY] and codes(user["type"]) == {"IRCP", "UserOauthAgent"}
    assert "network" not in user and "extension" in user  # fhirUser, in our own extension
    assert agent(body, "110150")["network"]["address"] == PSEUDONYMIZER.client_address("192.0.2.2")
    assert profiles(body) == ["PatientRead", "OAUTHaccessTokenUse.Minimal"]
    (patient,) = entities(body, balp.PATIENT_ROLE)
    assert patient["what"]["identifier"]["value"] == PSEUDONYMIZER.patient(f"{RAW_MARK}-1")
    (data,) = entities(body, balp.DOMAIN_RESOURCE)
    assert data["what"]["identifier"]["value"] == PSEUDONYMIZER.reference(
        f"Observation/obs-{RAW_MARK}"
    )
    assert not entities(body, balp.QUERY_ROLE)
    (transaction,) = [e for e in body["entity"] if e["type"] == balp.TRANSACTION]
    assert transaction["what"]["identifier"]["value"] == "req-000001"
    assert body["source"]["observer"]["identifier"]["value"] == SERVER.fhir_base


def test_search_is_a_balp_query_with_the_parameter_names_only() -> None:
    row = row_of(query_params=("code", "patient"), route="/fhir/{resource_type}",
                 resource_ids=(f"Observation/obs-{RAW_MARK}",))  # fmt: skip
    body = rendered(row)
    assert body["action"] == "E" and codes(body["subtype"]) >= {"search-type", "search"}
    (query,) = entities(body, balp.QUERY_ROLE)
    assert base64.b64decode(query["query"]).decode() == "GET /fhir/Observation?code&patient"
    assert "values are not kept" in query["description"]
    assert codes(agent(body, "110150")["type"]) == {"110153", "110150"}  # client: source
    assert profiles(body) == ["PatientQuery", "OAUTHaccessTokenUse.Minimal"]
    (returned,) = [e for e in body["entity"] if e["type"] == balp.OTHER_OBJECT and "role" in e]
    assert returned["role"] == balp.DOMAIN_RESOURCE  # beside BALP's one System Object, the query


def test_search_over_several_patients_is_one_auditevent_per_patient() -> None:
    raw = [f"{RAW_MARK}-{n}" for n in range(3)]
    row = row_of(patient_ids=tuple(raw), resource_ids=tuple(f"Patient/{p}" for p in raw))
    parts = event_parts(row)
    assert [aid for aid, _ in parts] == [f"evt-000001.{n}" for n in (1, 2, 3)]
    assert sorted(p for _, p in parts) == sorted(PSEUDONYMIZER.patient(p) for p in raw)
    for n, (aid, patient) in enumerate(parts, start=1):
        assert split_id(aid) == ("evt-000001", n)
        body = rendered(row, n)
        assert body["id"] == aid
        (entity,) = entities(body, balp.PATIENT_ROLE)
        assert entity["what"]["identifier"]["value"] == patient
        assert not entities(body, balp.DOMAIN_RESOURCE)  # which resource was whose is unknown
        assert entities(body, balp.QUERY_ROLE)
        assert profiles(body)[0] == "PatientQuery"
    whole = rendered(row)  # read as one event: three patients fit no BALP profile
    assert profiles(whole) == ["OAUTHaccessTokenUse.Minimal"]
    assert split_id("evt-000001") == ("evt-000001", 0)


def test_denied_request_carries_the_decision_and_reasons() -> None:
    row = row_of(
        decision=Decision.DENY,
        status=403,
        reasons=("scope.insufficient",),
        scopes_used=(),
        count_returned=0,
    )
    body = rendered(row)
    assert body["outcome"] == "4" and "scope.insufficient" in body["outcomeDesc"]
    decision = extension(body, balp.DECISION_EXTENSION)
    assert decision["decision"] == ["deny"] and decision["httpStatus"] == [403]
    assert [c["code"] for c in decision["reason"]] == ["scope.insufficient"]
    assert decision["policyVersion"] == ["policy-1"] and decision["countReturned"] == [0]
    seal = extension(body, balp.EVIDENCE_EXTENSION)
    assert seal["eventHash"] == [row["event_hash"]] and seal["sequence"] == ["1"]
    assert seal["proof"] == [f"{SERVER.base_url}/audit/requests/req-000001/proof"]
    assert profiles(body) == ["OAUTHaccessTokenUse.Minimal"]  # BALP's REST profiles: successes


def test_unauthenticated_request() -> None:
    row = row_of(
        decision=Decision.DENY, status=401, reasons=("token.missing",), sub="", client_id="",
        issuer="", token_alg="", token_kid="", token_jti_hash="", token_model="", fhir_user="",
        purpose_of_use="", scopes_granted=(), scopes_used=(), patient_ids=(), action="read",
        count_returned=0,
    )  # fmt: skip
    body = rendered(row)
    assert body["outcome"] == "4" and "token.missing" in body["outcomeDesc"]
    (user,) = [a for a in body["agent"] if a["requestor"]]
    assert user["who"] == {"display": "unauthenticated"} and "policy" not in user
    assert codes(user["type"]) == {"IRCP"}
    client = agent(body, "110150")  # unnamed, known by its address alone
    assert client["who"] == {"display": "client not identified"} and client["network"]["address"]
    assert "purposeOfEvent" not in body and "meta" not in body


def test_the_client_address_is_a_pseudonym_on_the_client_agents_network() -> None:
    """`network.address` holds the keyed pseudonym with no `type` (1 would claim a machine
    name, 2 an IP address), an extension its system and key version; always on the client
    app's agent (unnamed when the token had no client_id), never on the user (BALP); none when
    no address was recorded (events before schema version 3), and then no BALP REST claim."""
    expected = {"type": {"text": "keyed pseudonym, key version 1"},
                "system": balp.CLIENT_ADDRESS_PSEUDONYM,
                "value": PSEUDONYMIZER.client_address("192.0.2.2")}  # fmt: skip
    body = rendered(row_of())
    network = agent(body, "110150")["network"]
    assert network == {"address": expected["value"], "extension": [
        {"url": balp.CLIENT_ADDRESS_EXTENSION, "valueIdentifier": expected}]}  # fmt: skip
    assert "192.0.2.2" not in orjson.dumps(body).decode()
    assert "network" not in agent(body, "UserOauthAgent")
    alone = rendered(row_of(client_id="", client_address="192.0.2.2"))
    assert agent(alone, "110150")["who"] == {"display": "client not identified"}
    assert agent(alone, "110150")["network"]["address"] == expected["value"]
    assert not any("network" in a for a in alone["agent"] if a["requestor"])
    for old in (row_of(schema_version=2), row_of(client_address="")):
        body = rendered(old)
        assert not any("extension" in a.get("network", {}) for a in body["agent"])
        assert profiles(body) == ["OAUTHaccessTokenUse.Minimal"]


def test_refused_token_is_named_by_its_jti_hash() -> None:
    row = row_of(
        decision=Decision.DENY, status=401, reasons=("token.expired",), sub="", client_id="",
        token_jti_hash="cd" * 16, scopes_granted=(), scopes_used=(),
    )  # fmt: skip
    body = rendered(row)
    (token,) = [e for e in body["entity"] if e["type"] == balp.OTHER_OBJECT]
    assert token["what"]["identifier"] == {"system": balp.JTI_HASH, "value": "cd" * 16}
    assert {d["type"] for d in token["detail"]} >= {"alg", "kid"}


def test_writes_follow_balp_create_update_delete() -> None:
    """The user is the author of a create or update, the informant of a delete (BALP
    DataSources); a delete's server is the custodian; a patient user is PAT besides."""
    cases = (("create", "POST", "C", "AUT"), ("update", "PUT", "U", "AUT"),
             ("delete", "DELETE", "D", "INF"))  # fmt: skip
    for action, method, code, user_type in cases:
        resource = (f"Observation/obs-{RAW_MARK}",)
        body = rendered(
            row_of(action=action, method=method, query_params=(), resource_ids=resource)
        )
        assert body["action"] == code and codes(body["subtype"]) >= {action}
        assert codes(agent(body, "UserOauthAgent")["type"]) == {user_type, "UserOauthAgent"}
        assert codes(agent(body, "110150")["type"]) == {"110153", "110150"}
        server = [a for a in body["agent"] if a["who"].get("display") == "fhir-evidence"]
        server_type = "custodian" if action == "delete" else "110152"
        assert [codes(a["type"]) for a in server] == [{server_type}]
        assert profiles(body) == [f"Patient{action.title()}", "OAUTHaccessTokenUse.Minimal"]
        (data,) = entities(body, balp.DOMAIN_RESOURCE)
        assert data["type"] == balp.SYSTEM_OBJECT
        own = rendered(row_of(action=action, method=method, fhir_user=f"Patient/{RAW_MARK}-1"))
        assert codes(agent(own, "UserOauthAgent")["type"]) == {user_type, "PAT", "UserOauthAgent"}
        refused = rendered(row_of(action=action, method=method, decision=Decision.DENY,
                                  status=403, resource_ids=resource))  # fmt: skip
        assert refused["outcome"] == "4" and profiles(refused) == ["OAUTHaccessTokenUse.Minimal"]


def test_export_and_its_download() -> None:
    """A kick-off is DICOM's Export (110106), action R (PS3.15 A.5.3.6): data leaves for the
    client, the Destination Role ID; no BALP profile covers it."""
    kick_off = rendered(row_of(action="export", resource_type="Observation,Patient"))
    assert kick_off["type"]["code"] == "110106" and kick_off["action"] == "R"
    assert codes(kick_off["subtype"]) >= {"operation", "export"}
    assert codes(agent(kick_off, "110150")["type"]) == {"110152", "110150"}
    assert codes(agent(kick_off, "UserOauthAgent")["type"]) == {"IRCP", "UserOauthAgent"}
    assert profiles(kick_off) == ["OAUTHaccessTokenUse.Minimal"]
    download = rendered(row_of(action="export.download", query_params=()))
    assert download["type"]["code"] == "110106" and download["action"] == "R"


def test_server_failure_is_a_serious_failure() -> None:
    body = rendered(row_of(decision=Decision.DENY, status=503, reasons=("dependency.failed",)))
    assert body["outcome"] == "8"


def test_auditor_reads_and_internal_events() -> None:
    audit_read = rendered(row_of(action="audit.patient_accesses", resource_type="AuditEvent"))
    assert audit_read["type"]["code"] == "110101" and audit_read["action"] == "R"
    internal_row = row_of(
        action="detection.rules", method="INTERNAL", sub="system:fhir-evidence",
        client_id="", token_alg="", token_jti_hash="", patient_ids=(),
    )  # fmt: skip
    internal = rendered(internal_row)
    assert internal["type"]["code"] == "110100"


def test_patient_user_appears_by_pseudonym() -> None:
    row = row_of(fhir_user=f"Patient/{RAW_MARK}-1", context_patient_id=f"{RAW_MARK}-1")
    user = agent(rendered(row), "UserOauthAgent")
    assert codes(user["type"]) == {"IRCP", "PAT", "UserOauthAgent"}
    (other,) = user["extension"]
    assert other["url"] == balp.FHIR_USER_EXTENSION  # not BALP's ihe-otherId: no type fits
    assert other["valueReference"]["identifier"]["value"] == PSEUDONYMIZER.patient(f"{RAW_MARK}-1")


@settings(max_examples=150, deadline=None)
@given(st.lists(access_events(), min_size=1, max_size=3))
def test_any_row_renders_valid_fhir(events: list[AccessEvent]) -> None:
    """Whatever a token carried (claims are caller-controlled text), the AuditEvent is valid."""
    for row in sealed_rows(events):
        for aid, _patient in event_parts(row):
            body = auditevent(row, SERVER, split_id(aid)[1])
            AUDIT_EVENT.model_validate(body)
            assert body["id"] == aid


_ACTIONS = ["read", "vread", "search", "create", "update", "delete", "export", "metadata"]


@settings(max_examples=80, deadline=None)
@given(access_events(), st.sampled_from(_ACTIONS), st.booleans())
def test_a_claimed_profile_is_the_rows_own(event: AccessEvent, action: str, one: bool) -> None:
    """Against the row, not the body: a BALP REST profile is claimed only for a success of
    its own interaction, with a client address, one resource for a read or write, and its
    Patient variant exactly when one patient is named; a claim of OAuth use needs a jti."""
    if one:
        event = dataclasses.replace(event, patient_ids=event.patient_ids[:1],
                                    resource_ids=event.resource_ids[:1])  # fmt: skip
    (row,) = sealed_rows([dataclasses.replace(event, action=action)])
    body = auditevent(row, SERVER)
    AUDIT_EVENT.model_validate(body)
    claimed = profiles(body)
    assert ("OAUTHaccessTokenUse.Minimal" in claimed) == bool(row["token_jti_hash"])
    rest = [p for p in claimed if not p.startswith("OAUTH")]
    if not rest:
        return
    (profile,) = rest
    kind = {"read": "Read", "vread": "Read", "search": "Query"}.get(action, action.title())
    assert profile.removeprefix("Patient") == kind
    assert profile.startswith("Patient") == (len(row["patient_hashes"]) == 1)
    assert row["decision"] != "deny" and int(row["status"]) < 400 and row["client_address_hash"]
    if kind != "Query":
        assert len(row["resource_hashes"]) == 1
