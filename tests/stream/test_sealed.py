"""The pure outbox-row → evidence-row step, on both paths: sealed payload and raw event."""

import orjson
import pytest

from evidence.core import GENESIS_HASH, canonical_bytes, chain_hash_bytes
from evidence.core.record import evidence_payload, to_evidence_record
from stream.sealed import NOT_JSON, SCHEMA, SEAL_MISMATCH, PoisonEvent, sealed_row
from tests.evidence.builders import PSEUDONYMIZER, make_event

EVENT = make_event(1)
PAYLOAD = canonical_bytes(evidence_payload(EVENT, PSEUDONYMIZER))
HASH = chain_hash_bytes("p", 1, GENESIS_HASH, PAYLOAD)


def test_row_of_a_sealed_payload() -> None:
    row = sealed_row(PAYLOAD, "p", 1, GENESIS_HASH, HASH)
    assert row["sequence"] == 1 and row["event_hash"] == HASH and row["producer_id"] == "p"


def test_the_row_is_the_evidence_records_row_field_for_field_and_in_order() -> None:
    """Built in the parsed payload itself, it is still `to_evidence_record(...).as_row()`:
    the same fields in the same order, so the same JSON text reaches the index."""
    record = to_evidence_record(orjson.loads(PAYLOAD), "p", 1, GENESIS_HASH, HASH)
    row = sealed_row(PAYLOAD, "p", 1, GENESIS_HASH, HASH)
    assert orjson.dumps(row) == orjson.dumps(record.as_row())


@pytest.mark.parametrize("version", [None, [1], {"v": 1}, "x", 99, True])
def test_a_payload_of_no_known_schema_version_is_poison(version: object) -> None:
    payload = canonical_bytes({**orjson.loads(PAYLOAD), "schema_version": version})
    with pytest.raises(PoisonEvent) as caught:
        sealed_row(payload, "p", 1, GENESIS_HASH, chain_hash_bytes("p", 1, GENESIS_HASH, payload))
    assert caught.value.code == SCHEMA


@pytest.mark.parametrize(
    "payload", [PAYLOAD.replace(b'"allow"', b'"deny"'), b"{}", b"[]", b"\xff", PAYLOAD + b" "]
)
def test_payload_not_matching_its_seal_is_poison(payload: bytes) -> None:
    with pytest.raises(PoisonEvent) as caught:
        sealed_row(payload, "p", 1, GENESIS_HASH, HASH)
    assert caught.value.code == SEAL_MISMATCH


def test_payload_with_foreign_fields_is_poison() -> None:
    payload = canonical_bytes({"event_id": "x"})
    with pytest.raises(PoisonEvent) as caught:
        sealed_row(payload, "p", 1, GENESIS_HASH, chain_hash_bytes("p", 1, GENESIS_HASH, payload))
    assert caught.value.code == SCHEMA


def test_sealed_bytes_that_are_not_json_are_poison_of_their_own_kind() -> None:
    payload = b"not json {"
    with pytest.raises(PoisonEvent) as caught:
        sealed_row(payload, "p", 1, GENESIS_HASH, chain_hash_bytes("p", 1, GENESIS_HASH, payload))
    assert caught.value.code == NOT_JSON
