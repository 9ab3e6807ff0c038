"""The per-producer hash chain, pinned by golden vectors.

How an auditor recomputes an event hash with nothing but the standard library::

    import hashlib, json
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    head = f"{producer_id}\\x00{sequence}\\x00{prev_hash}\\x00".encode("utf-8")
    event_hash = hashlib.sha256(b"fhir-evidence/chain/v1\\x00" + head + body).hexdigest()

where `payload` is the stored row restricted to the payload fields (`payload_from_row`) and
the first event of a producer has prev_hash = "0" * 64. If a golden vector below stops
matching, the encoding changed and every stored chain stops verifying: do not "fix" the test.
"""

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core import GENESIS_HASH, chain_hash, seal_event
from evidence.core.record import evidence_payload
from tests.evidence.builders import PSEUDONYMIZER, make_event

PRODUCER = "api-golden"
PAYLOAD_1: dict[str, Any] = {
    "event_id": "evt-1",
    "ts_us": 1735689600000000,
    "decision": "allow",
    "status": 200,
    "reasons": ["scope.granted"],
    "patient_hashes": [],
    "key_version": 1,
}
PAYLOAD_2: dict[str, Any] = {
    "event_id": "evt-2",
    "ts_us": 1735689601000000,
    "decision": "deny",
    "status": 403,
    "reasons": ["compartment.outside", "scope.insufficient"],
    "sub": "dr-alice",
    "patient_hashes": ["0123456789abcdef0123456789abcdef"],
    "key_version": 1,
}
PAYLOAD_3: dict[str, Any] = {
    "event_id": "evt-3",
    "route": "/fhir/Patient/{id}",
    "sub": "Zoë 患者",
    "count_returned": 0,
    "fhir_user": "",
    "withheld": None,
    "break_glass": True,
}
GOLDEN_1 = "1ec4d11b4bb6e5abc81c203fb71241bba6895c8fe5d10896712572d076f38f14"
GOLDEN_2 = "e665c4a409b784fb6ad31234d059c32946442b27f4d74d269573fd10a9606aa2"
GOLDEN_3 = "5c646ee5a2e1be9bc95536f8cc961f867195155fa143484a53aceb99ae3825b8"


def auditor_hash(producer_id: str, sequence: int, prev_hash: str, payload: dict[str, Any]) -> str:
    """The recipe of the module docstring, independent of the project's code."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    head = f"{producer_id}\x00{sequence}\x00{prev_hash}\x00"
    data = b"fhir-evidence/chain/v1\x00" + head.encode("utf-8") + body.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def test_golden_vectors() -> None:
    assert GENESIS_HASH == "0" * 64
    assert chain_hash(PRODUCER, 1, GENESIS_HASH, PAYLOAD_1) == GOLDEN_1
    assert chain_hash(PRODUCER, 2, GOLDEN_1, PAYLOAD_2) == GOLDEN_2
    assert chain_hash(PRODUCER, 3, GOLDEN_2, PAYLOAD_3) == GOLDEN_3


def test_golden_vectors_with_the_auditor_recipe() -> None:
    assert auditor_hash(PRODUCER, 1, GENESIS_HASH, PAYLOAD_1) == GOLDEN_1
    assert auditor_hash(PRODUCER, 2, GOLDEN_1, PAYLOAD_2) == GOLDEN_2
    assert auditor_hash(PRODUCER, 3, GOLDEN_2, PAYLOAD_3) == GOLDEN_3


@given(st.integers(min_value=0, max_value=200))
def test_auditor_recipe_matches_real_payloads(n: int) -> None:
    payload = evidence_payload(make_event(n), PSEUDONYMIZER)
    assert chain_hash("api-x", n + 1, GOLDEN_1, payload) == auditor_hash(
        "api-x", n + 1, GOLDEN_1, payload
    )


def test_hash_is_independent_of_key_order() -> None:
    reordered = dict(reversed(list(PAYLOAD_2.items())))
    assert chain_hash(PRODUCER, 2, GOLDEN_1, reordered) == GOLDEN_2


@pytest.mark.parametrize(
    ("producer", "sequence", "prev"),
    [("api-other", 1, GENESIS_HASH), (PRODUCER, 2, GENESIS_HASH), (PRODUCER, 1, GOLDEN_2)],
)
def test_every_input_is_bound(producer: str, sequence: int, prev: str) -> None:
    assert chain_hash(producer, sequence, prev, PAYLOAD_1) != GOLDEN_1


def test_any_payload_change_changes_the_hash() -> None:
    for name, value in [("decision", "deny"), ("status", 201), ("reasons", []), ("x", "")]:
        changed = {**PAYLOAD_1, name: value}
        assert chain_hash(PRODUCER, 1, GENESIS_HASH, changed) != GOLDEN_1, name


def test_seal_event_links_and_hashes() -> None:
    first = seal_event(PRODUCER, 1, GENESIS_HASH, PAYLOAD_1)
    second = seal_event(PRODUCER, 2, first.event_hash, PAYLOAD_2)
    assert (first.producer_id, first.sequence, first.prev_hash) == (PRODUCER, 1, GENESIS_HASH)
    assert first.event_hash == GOLDEN_1
    assert second.prev_hash == GOLDEN_1
    assert second.event_hash == GOLDEN_2


@pytest.mark.parametrize("sequence", [0, -1])
def test_sequences_start_at_one(sequence: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        seal_event(PRODUCER, sequence, GENESIS_HASH, PAYLOAD_1)


def test_floats_cannot_be_sealed() -> None:
    with pytest.raises(ValueError):
        chain_hash(PRODUCER, 1, GENESIS_HASH, {"score": 0.5})
