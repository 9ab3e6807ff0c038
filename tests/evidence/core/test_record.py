"""The pseudonymous evidence payload and the stored row."""

import datetime as dt
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from evidence.core import AccessEvent, Pseudonymizer, canonical_bytes, seal_event
from evidence.core.record import (
    PAYLOAD_FIELDS,
    evidence_payload,
    hour_of_week,
    jti_hash,
    payload_from_row,
    to_evidence_record,
)
from tests.evidence.builders import PSEUDONYMIZER, access_events, make_event

# Raw ids carry a marker that no fixed field of make_event and no lowercase hex hash holds.
_raw_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", max_size=16).map(
    lambda s: f"QZX{s}"
)
_TYPES = ["Patient", "Observation", "Encounter", "Condition"]


def _micros(year: int, month: int, day: int, hour: int = 0) -> int:
    moment = dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000


@given(
    patients=st.lists(_raw_ids, min_size=1, max_size=5),
    resources=st.lists(st.tuples(st.sampled_from(_TYPES), _raw_ids), max_size=5),
    user_base=st.sampled_from(["", "https://ehr.example/fhir/"]),
)
def test_payload_holds_no_raw_identifier(
    patients: list[str], resources: list[tuple[str, str]], user_base: str
) -> None:
    references = tuple(f"{t}/{i}" for t, i in resources) + tuple(f"Patient/{p}" for p in patients)
    event = make_event(
        1,
        patient_ids=tuple(patients),
        resource_ids=references,
        context_patient_id=patients[0],
        fhir_user=f"{user_base}Patient/{patients[0]}",  # a patient-facing app's user
    )
    payload = evidence_payload(event, PSEUDONYMIZER)
    sealed = seal_event("api-test", 1, "0" * 64, payload)
    row = to_evidence_record(payload, "api-test", 1, sealed.prev_hash, sealed.event_hash).as_row()
    for encoded in (canonical_bytes(payload), canonical_bytes(row)):
        for raw in [*patients, *(i for _, i in resources)]:
            assert raw.encode() not in encoded


def test_payload_replaces_ids_with_keyed_hashes() -> None:
    event = make_event(
        3,
        patient_ids=("pat-2", "pat-1", "pat-2"),
        resource_ids=("Observation/obs-9", "Patient/pat-1"),
        context_patient_id="pat-1",
    )
    payload = evidence_payload(event, PSEUDONYMIZER)
    p = PSEUDONYMIZER
    assert payload["patient_hashes"] == sorted({p.patient("pat-1"), p.patient("pat-2")})
    assert payload["resource_hashes"] == sorted(
        [p.reference("Observation/obs-9"), p.reference("Patient/pat-1")]
    )
    assert payload["context_patient_hash"] == p.patient("pat-1")
    assert payload["key_version"] == 1
    assert "patient_ids" not in payload and "resource_ids" not in payload
    assert "context_patient_id" not in payload


def test_practitioner_user_stays_readable() -> None:
    payload = evidence_payload(make_event(1), PSEUDONYMIZER)
    assert payload["fhir_user"] == "Practitioner/prac-0001"
    assert payload["sub"] == "dr-alice"


def test_patient_user_is_pseudonymised_like_the_patient() -> None:
    p = PSEUDONYMIZER
    for user, expected in [
        ("Patient/pat-1", f"Patient/{p.patient('pat-1')}"),
        (
            "https://ehr.example/fhir/Patient/pat-1",
            f"https://ehr.example/fhir/Patient/{p.patient('pat-1')}",
        ),
        ("Patient/", "Patient/"),
        ("", ""),
    ]:
        assert evidence_payload(make_event(1, fhir_user=user), p)["fhir_user"] == expected


def test_empty_context_patient_stays_empty() -> None:
    payload = evidence_payload(make_event(1, context_patient_id=""), PSEUDONYMIZER)
    assert payload["context_patient_hash"] == ""


def test_payload_fields_are_exactly_the_stored_payload_fields() -> None:
    payload = evidence_payload(make_event(1), PSEUDONYMIZER)
    assert set(payload) == set(PAYLOAD_FIELDS)


def test_key_version_follows_the_pseudonymizer() -> None:
    other = Pseudonymizer(b"another-key-0123456789abcdef", key_version=7)
    payload = evidence_payload(make_event(1), other)
    assert payload["key_version"] == 7
    assert (
        payload["patient_hashes"]
        != evidence_payload(make_event(1), PSEUDONYMIZER)["patient_hashes"]
    )


@given(access_events())
def test_payload_from_row_inverts_as_row(event: AccessEvent) -> None:
    payload = evidence_payload(event, PSEUDONYMIZER)
    sealed = seal_event("api-test", 5, "ab" * 32, payload)
    record = to_evidence_record(payload, "api-test", 5, sealed.prev_hash, sealed.event_hash)
    assert payload_from_row(record.as_row()) == payload


@given(access_events())
def test_payload_from_a_store_shaped_row(event: AccessEvent) -> None:
    """A store returns extra columns, tuples for arrays; the hash must still recompute."""
    payload = evidence_payload(event, PSEUDONYMIZER)
    row = to_evidence_record(payload, "p", 1, "0" * 64, "x").as_row()
    store_row = {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}
    store_row["stored_at"] = dt.datetime(2025, 1, 1)
    rebuilt = payload_from_row(store_row)
    assert rebuilt == payload
    assert canonical_bytes(rebuilt) == canonical_bytes(payload)


def test_record_row_carries_seal_and_enrichment() -> None:
    payload = evidence_payload(make_event(1), PSEUDONYMIZER)
    sealed = seal_event("api-test", 1, "0" * 64, payload)
    row = to_evidence_record(payload, "api-test", 1, sealed.prev_hash, sealed.event_hash).as_row()
    assert row["producer_id"] == "api-test"
    assert row["sequence"] == 1
    assert row["prev_hash"] == "0" * 64
    assert row["event_hash"] == sealed.event_hash
    assert row["hour_of_week"] == hour_of_week(payload["ts_us"])


def test_hour_of_week_known_values() -> None:
    assert hour_of_week(0) == 72  # 1970-01-01T00:00Z, Thursday 00h
    assert hour_of_week(_micros(2024, 1, 1)) == 0  # Monday 00:00 UTC
    assert hour_of_week(_micros(2024, 1, 1, 13)) == 13
    assert hour_of_week(_micros(2024, 1, 7, 23)) == 167  # Sunday 23h
    assert hour_of_week(_micros(2024, 1, 8)) == 0  # the next Monday wraps
    assert hour_of_week(-3_600_000_000) == 71  # 1969-12-31T23:00Z, Wednesday 23h
    assert hour_of_week(_micros(2024, 1, 1) - 1) == 167


@given(st.integers(min_value=-6 * 10**16, max_value=2 * 10**17))
def test_hour_of_week_agrees_with_datetime(ts_us: int) -> None:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_us)
    assert hour_of_week(ts_us) == moment.weekday() * 24 + moment.hour


def test_jti_hash() -> None:
    assert jti_hash("") == ""
    assert len(jti_hash("abc")) == 32
    assert jti_hash("abc") != jti_hash("abd")
    assert "abc" not in jti_hash("abc")


def test_payload_does_not_depend_on_patient_order() -> None:
    a = make_event(1, patient_ids=("p1", "p2"), resource_ids=("Observation/o1", "Observation/o2"))
    b = replace(a, patient_ids=("p2", "p1"), resource_ids=("Observation/o2", "Observation/o1"))
    assert canonical_bytes(evidence_payload(a, PSEUDONYMIZER)) == canonical_bytes(
        evidence_payload(b, PSEUDONYMIZER)
    )


def test_older_schema_versions_keep_their_hashed_fields() -> None:
    """A version-1 event (before count_redacted) and a version-2 event (before the client
    address) hash exactly as they did, although the store now has their columns (filled
    with defaults); version 3 hashes the client address pseudonym, version 4 the token
    model, version 5 the pseudonyms of patients a search probed."""
    from evidence.core import chain_hash
    from evidence.core.record import payload_fields, payload_from_row

    old = make_event(1, schema_version=1)
    payload = evidence_payload(old, PSEUDONYMIZER)
    assert "count_redacted" not in payload and set(payload) == set(payload_fields(1))
    row = {**payload, "count_redacted": 0, "client_address_hash": ""}
    assert payload_from_row(row) == payload
    v2 = evidence_payload(make_event(2, count_redacted=3, schema_version=2), PSEUDONYMIZER)
    assert v2["count_redacted"] == 3 and "client_address_hash" not in v2
    assert payload_from_row({**v2, "client_address_hash": ""}) == v2
    v3 = evidence_payload(make_event(2, count_redacted=3, schema_version=3), PSEUDONYMIZER)
    assert v3["client_address_hash"] == PSEUDONYMIZER.client_address("192.0.2.3")
    assert "token_type" not in v3 and payload_from_row({**v3, "token_type": ""}) == v3
    token = {"token_type": "introspected", "idp_product": "keycloak", "idp_version": "26.7.3"}
    v4 = evidence_payload(make_event(2, schema_version=4, **token), PSEUDONYMIZER)
    assert {name: v4[name] for name in token} == token  # the token model, sealed
    assert "probed_patient_hashes" not in v4
    assert payload_from_row({**v4, "probed_patient_hashes": []}) == v4
    new = evidence_payload(make_event(2, probed_patient_ids=("pat-9",), **token), PSEUDONYMIZER)
    assert new["schema_version"] == 5 and set(new) == set(PAYLOAD_FIELDS)
    assert new["probed_patient_hashes"] == [PSEUDONYMIZER.patient("pat-9")]
    hashes = {chain_hash("p", 1, "0" * 64, p) for p in (payload, v2, v3, v4, new)}
    assert len(hashes) == 5


# Chain hashes of make_event(1, schema_version=v, count_redacted=2) as producer "api-golden",
# sequence 7, computed by the code before the next schema version existed (1 and 2 before
# version 3, 3 before version 4, 4 before version 5): events sealed then must verify forever.
GOLDEN_HASHES = {
    1: "69618c1bb083126d26fe8b50ffcdcdbe3ab6dc07703166f03f7bfed4da56f26e",
    2: "e4a81951bf0f78c154d489f9ecf338044eb42fd68756dd23553ce1a28eabeb61",
    3: "b0b3b514525c57b65bc367f3db5286b366319cabc77d4909cf5aff882ea0c461",
    4: "8dea74b3129e093e8db37c29740f26a86c422b26d247de3908d987c3eb7a3354",
}


def test_events_sealed_by_older_versions_still_verify() -> None:
    from evidence.core.record import row_matches_hash

    for version, golden in GOLDEN_HASHES.items():
        payload = evidence_payload(make_event(1, schema_version=version, count_redacted=2),
                                   PSEUDONYMIZER)  # fmt: skip
        record = to_evidence_record(payload, "api-golden", 7, "0" * 64, golden)
        row = {**record.as_row(), "count_redacted": 2 if version > 1 else 0,
               "client_address_hash": record.payload.get("client_address_hash", ""),
               "token_type": "", "idp_product": "", "idp_version": "",
               "probed_patient_hashes": []}  # fmt: skip
        assert row_matches_hash(row), version
        assert not row_matches_hash({**row, "schema_version": version + 1})


@given(address=st.ip_addresses().map(str))
def test_the_client_address_is_in_evidence_only_as_its_pseudonym(address: str) -> None:
    """The pseudonym of a recorded client address, never the address (nor a hash of it
    without the key, nor the pseudonym of the same text as a patient id)."""
    payload = evidence_payload(make_event(1, client_address=address), PSEUDONYMIZER)
    assert address.encode() not in canonical_bytes(payload)
    assert "client_address" not in payload
    assert payload["client_address_hash"] == PSEUDONYMIZER.client_address(address)
    assert payload["client_address_hash"] != PSEUDONYMIZER.patient(address)
    other_key = Pseudonymizer(b"another key of sixteen bytes", 1)
    assert other_key.client_address(address) != payload["client_address_hash"]


def test_no_client_address_is_an_empty_pseudonym() -> None:
    assert (
        evidence_payload(make_event(1, client_address=""), PSEUDONYMIZER)["client_address_hash"]
        == ""
    )
