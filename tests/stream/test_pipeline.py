"""The pure outbox-row → evidence-row step, on both paths: sealed payload and raw event."""

import pytest

from evidence.core import GENESIS_HASH, canonical_bytes, chain_hash_bytes, event_to_dict
from evidence.core.record import evidence_payload
from stream.pipeline import PoisonEvent, evidence_row, evidence_row_from_payload
from tests.evidence.builders import PSEUDONYMIZER, make_event

EVENT = make_event(1)
PAYLOAD = canonical_bytes(evidence_payload(EVENT, PSEUDONYMIZER))
HASH = chain_hash_bytes("p", 1, GENESIS_HASH, PAYLOAD)


def test_both_paths_give_the_same_row() -> None:
    from_payload = evidence_row_from_payload(PAYLOAD, "p", 1, GENESIS_HASH, HASH)
    from_raw = evidence_row(event_to_dict(EVENT), "p", 1, GENESIS_HASH, HASH, 1, {1: PSEUDONYMIZER})
    assert from_payload == from_raw
    assert from_payload["sequence"] == 1 and from_payload["event_hash"] == HASH


def test_raw_path_needs_the_key_version() -> None:
    with pytest.raises(PoisonEvent):
        evidence_row(event_to_dict(EVENT), "p", 1, GENESIS_HASH, HASH, 2, {1: PSEUDONYMIZER})


@pytest.mark.parametrize(
    "payload", [PAYLOAD.replace(b'"allow"', b'"deny"'), b"{}", b"[]", b"\xff", PAYLOAD + b" "]
)
def test_payload_not_matching_its_seal_is_poison(payload: bytes) -> None:
    with pytest.raises(PoisonEvent):
        evidence_row_from_payload(payload, "p", 1, GENESIS_HASH, HASH)


def test_payload_with_foreign_fields_is_poison() -> None:
    payload = canonical_bytes({"event_id": "x"})
    with pytest.raises(PoisonEvent):
        evidence_row_from_payload(
            payload, "p", 1, GENESIS_HASH, chain_hash_bytes("p", 1, GENESIS_HASH, payload)
        )
