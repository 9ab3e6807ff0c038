"""Bulk export, the pure parts: headers, parameters, authorization, group members, manifest."""

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.data.indexing import SEARCH_PARAMS
from api.errors import InvalidRequest
from api.fhir.export_params import (
    COMPLETED,
    ExportJob,
    OutputFile,
    authorize_export,
    candidate_types,
    check_accept,
    check_prefer,
    group_members,
    job_from_dict,
    manifest,
    parse_export_params,
    parse_since,
    status_url,
    totals,
)
from api.security.access import COMPARTMENT_TYPES, SENSITIVE_LABELS
from api.security.principal import Principal
from api.security.scopes import parse_scope_claim

KNOWN = frozenset(SEARCH_PARAMS) | {"AuditEvent"}
BASE = "https://fhir.example/fhir"


def principal(scope: str, **fields: Any) -> Principal:
    scopes, known, _ = parse_scope_claim(scope)
    return Principal(
        sub="s", issuer="i", scopes=scopes, has_export_scope="export" in known, **fields
    )


def job(**fields: Any) -> ExportJob:
    values: dict[str, Any] = {
        "id": "a" * 32,
        "owner_sub": "s",
        "owner_issuer": "i",
        "request_url": f"{BASE}/Patient/$export?_type=Patient",
        "transaction_time": "2026-11-29T12:00:00Z",
        "types": ("Patient", "Observation"),
        "hidden_labels": ("HIV", "R"),
        "created_at": 1000.0,
    }
    values.update(fields)
    return ExportJob(**values)


@pytest.mark.parametrize("value", ["respond-async", "Respond-Async", "respond-async, wait=10"])
def test_prefer_respond_async_is_accepted(value: str) -> None:
    check_prefer(value)


@pytest.mark.parametrize("value", ["", "return=minimal", "respond-asynchronously"])
def test_prefer_without_respond_async_is_refused(value: str) -> None:
    with pytest.raises(InvalidRequest):
        check_prefer(value)


@pytest.mark.parametrize(
    "value", ["", "application/fhir+json", "*/*", "application/json;q=0.9", "text/html, */*"]
)
def test_accept_of_fhir_json_passes(value: str) -> None:
    check_accept(value)


@pytest.mark.parametrize("value", ["application/xml", "application/fhir+xml", "text/csv"])
def test_accept_of_other_types_is_refused(value: str) -> None:
    with pytest.raises(InvalidRequest):
        check_accept(value)


def test_defaults() -> None:
    params = parse_export_params([], KNOWN)
    assert params.types == () and params.since == ""
    assert params.output_format == "application/fhir+ndjson"


def test_type_lists_merge_without_duplicates() -> None:
    params = parse_export_params(
        [("_type", "Patient,Condition"), ("_type", "Condition, Observation")], KNOWN
    )
    assert params.types == ("Patient", "Condition", "Observation")


@pytest.mark.parametrize("value", ["application/fhir+ndjson", "application/ndjson", "ndjson"])
def test_ndjson_output_formats(value: str) -> None:
    params = parse_export_params([("_outputFormat", value)], KNOWN)
    assert params.output_format == "application/fhir+ndjson"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("_type", "Unknown"),
        ("_type", "AuditEvent"),
        ("_type", "Patient,,Condition"),
        ("_type", ""),
        ("_type", "patient"),
        ("_outputFormat", "application/fhir+json"),
        ("_outputFormat", "text/csv"),
        ("_since", "yesterday"),
        ("_since", "2025-01-01"),
        ("_since", "2025-01-01T00:00:00"),
        ("_since", "2025-13-01T00:00:00Z"),
        ("_typeFilter", "Observation?code=x"),
        ("_elements", "id"),
        ("patient", "Patient/p1"),
        ("_until", "2025-01-01T00:00:00Z"),
    ],
)
def test_invalid_parameters_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_export_params([(name, value)], KNOWN)


def test_repeated_single_parameters_are_refused() -> None:
    since = ("_since", "2025-01-01T00:00:00Z")
    with pytest.raises(InvalidRequest):
        parse_export_params([since, since], KNOWN)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("2025-01-01T00:00:00.123+02:00", "2025-01-01T00:00:00.123+02:00"),
        ("2025-01-01T00:00:00 02:00", "2025-01-01T00:00:00+02:00"),  # '+' decoded as ' '
    ],
)
def test_since_instants(value: str, expected: str) -> None:
    assert parse_since(value) == expected


@given(st.text(max_size=40))
def test_since_parsing_never_fails_otherwise(value: str) -> None:
    with contextlib.suppress(InvalidRequest):
        assert parse_since(value)


def test_candidate_types() -> None:
    every = candidate_types(KNOWN, group=False)
    assert "AuditEvent" not in every and "Group" not in every
    assert {"Patient", "Practitioner", "Observation"} <= set(every)
    # Group is in the Patient compartment (its members) but never exported by default
    assert set(candidate_types(KNOWN, group=True)) == (COMPARTMENT_TYPES - {"Group"}) & KNOWN


def test_export_needs_the_export_scope() -> None:
    grant = authorize_export(principal("system/*.rs"), (), ("Patient",), group=False)
    assert not grant.granted and grant.refused == ("export",)
    assert grant.required_scope() == "export"


def test_export_needs_system_read_for_every_requested_type() -> None:
    who = principal("system/Patient.rs export")
    grant = authorize_export(who, ("Patient", "Observation"), (), group=False)
    assert not grant.granted and grant.refused == ("Observation",)
    assert grant.required_scope() == "export system/Observation.rs"
    assert authorize_export(who, ("Patient",), (), group=False).types == ("Patient",)


@pytest.mark.parametrize(
    ("scope", "fields"),
    [
        ("user/*.rs export", {"fhir_user": "Practitioner/p"}),
        ("user/*.rs export", {"fhir_user": "Practitioner/p", "purpose_of_use": "ETREAT"}),
        ("patient/*.rs export", {"patient": "p1"}),
        ("system/Patient.cud export", {}),
        ("user/Patient.rs system/Observation.rs export", {"fhir_user": "Practitioner/p"}),
    ],
)
def test_only_system_read_scopes_export(scope: str, fields: dict[str, str]) -> None:
    grant = authorize_export(principal(scope, **fields), ("Patient",), (), group=False)
    assert not grant.granted


def test_default_types_narrow_to_what_the_token_reads() -> None:
    candidates = candidate_types(KNOWN, group=False)
    who = principal("system/Patient.rs system/Condition.read export")
    grant = authorize_export(who, (), candidates, group=False)
    assert grant.granted and set(grant.types) == {"Patient", "Condition"}
    assert set(grant.scopes_used) == {"export", "system/Patient.rs", "system/Condition.read"}
    nothing = authorize_export(principal("system/AuditEvent.rs export"), (), candidates, False)
    assert not nothing.granted and nothing.required_scope() == "export system/*.rs"


def test_granular_system_scopes_export_with_their_constraints() -> None:
    who = principal("system/Observation.rs?category=laboratory system/Patient.rs export")
    grant = authorize_export(who, ("Patient", "Observation"), (), group=False)
    assert grant.granted
    assert grant.constraints == {"Observation": ((("category", "laboratory"),),)}
    wider = principal("system/Observation.rs?category=laboratory system/Observation.rs export")
    assert authorize_export(wider, ("Observation",), (), group=False).constraints == {}


def test_group_export_needs_group_read() -> None:
    who = principal("system/Patient.rs export")
    assert not authorize_export(who, ("Patient",), (), group=True).granted
    who = principal("system/Patient.rs system/Group.rs export")
    assert authorize_export(who, ("Patient",), (), group=True).types == ("Patient",)


def test_hidden_labels_follow_the_clearance() -> None:
    who = principal("system/*.rs export", clearance=frozenset({"R", "HIV"}))
    grant = authorize_export(who, (), ("Patient",), group=False)
    assert grant.hidden_labels == SENSITIVE_LABELS - {"R", "HIV"}


def test_group_members_are_active_patient_references() -> None:
    group = {
        "resourceType": "Group",
        "member": [
            {"entity": {"reference": "Patient/p2"}},
            {"entity": {"reference": "Patient/p1"}},
            {"entity": {"reference": "Patient/p1"}},
            {"entity": {"reference": "Patient/gone"}, "inactive": True},
            {"entity": {"reference": "Practitioner/x"}},
            {"entity": {"reference": "Patient/../../etc"}},
            {"entity": {"display": "no reference"}},
            {"entity": "Patient/p9"},
            "garbage",
        ],
    }
    assert group_members(group) == ("p1", "p2")
    assert group_members({"resourceType": "Group"}) == ()


def test_manifest_lists_files_with_resources_only() -> None:
    done = job(
        status=COMPLETED, outputs=(OutputFile("Patient", 3, 1), OutputFile("Observation", 0))
    )
    body = manifest(done, BASE)
    assert body == {
        "transactionTime": "2026-11-29T12:00:00Z",
        "request": f"{BASE}/Patient/$export?_type=Patient",
        "requiresAccessToken": True,
        "output": [
            {
                "type": "Patient",
                "url": f"{BASE}/$export-file/{'a' * 32}/Patient.ndjson",
                "count": 3,
            }
        ],
        "error": [],
    }
    assert totals(done) == (3, 1)
    assert done.output("Patient") == OutputFile("Patient", 3, 1)
    assert done.output("Observation") is None
    assert status_url(BASE, done.id) == f"{BASE}/$export-status/{'a' * 32}"


@pytest.mark.parametrize("patients", [None, (), ("p1", "p2")])
def test_job_record_round_trips(patients: tuple[str, ...] | None) -> None:
    constraints = {"Observation": ((("category", "laboratory"), ("status", "final")),)}
    original = job(
        patient_ids=patients, since="2025-01-01T00:00:00Z", group_id="g1", constraints=constraints
    ).finished(COMPLETED, 2000.0, [OutputFile("Patient", 2, 1)])
    assert job_from_dict(original.as_dict()) == original


def test_ownership_is_subject_issuer_and_client() -> None:
    record = job(owner_client="app")
    assert record.owned_by(Principal(sub="s", issuer="i", client_id="app"))
    assert not record.owned_by(Principal(sub="s", issuer="i", client_id="other"))
    assert not record.owned_by(Principal(sub="s", issuer="other", client_id="app"))
    assert not record.owned_by(Principal(sub="t", issuer="i", client_id="app"))
    assert not job().owned_by(Principal(sub="s", issuer="i"))  # no client recorded: nobody's
