"""Kafka message bodies of the distributed runtime (pure: bytes in, plain data out).

raw       {"v": 1, "producer_id", "sequence", "prev_hash", "event_hash", "key_version", "event"}
          keyed by the raw principal; the event still holds raw ids (short-retention topic).
evidence  {"v": 1, "row": <evidence row>, "enrichment": {...}} keyed by the pseudonymous
          principal; nothing raw left.
dead      {"v": 1, "topic", "partition", "offset", "code", "reason", "key", "value"} with the
          original key and value base64-encoded, so nothing is lost when a message is parked.
"""

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from stream.outbox import OutboxRow
from stream.pipeline import PoisonEvent

VERSION = 1
_RAW_FIELDS = ("producer_id", "sequence", "prev_hash", "event_hash", "key_version", "event")


@dataclass(frozen=True, slots=True)
class RawMessage:
    producer_id: str
    sequence: int
    prev_hash: str
    event_hash: str
    key_version: int
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EvidenceMessage:
    row: dict[str, Any]
    enrichment: dict[str, Any]


def raw_key(event: Mapping[str, Any]) -> bytes:
    """Partition key of a raw event: its principal (the client for anonymous requests)."""
    return str(event.get("sub") or event.get("client_id") or "anonymous").encode()


def encode_raw(row: OutboxRow, producer_id: str) -> bytes:
    return orjson.dumps({
        "v": VERSION, "producer_id": producer_id, "sequence": row.sequence,
        "prev_hash": row.prev_hash, "event_hash": row.event_hash,
        "key_version": row.key_version, "event": row.event,
    })  # fmt: skip


def _object(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise PoisonEvent("empty message")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonEvent("message is not JSON") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise PoisonEvent("message is not a version 1 object")
    return data


def decode_raw(value: bytes | None) -> RawMessage:
    data = _object(value)
    if any(name not in data for name in _RAW_FIELDS):
        raise PoisonEvent("raw message lacks chain fields")
    try:
        message = RawMessage(
            str(data["producer_id"]), int(data["sequence"]), str(data["prev_hash"]),
            str(data["event_hash"]), int(data["key_version"]), data["event"],
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise PoisonEvent("raw message has malformed chain fields") from exc
    if not isinstance(message.event, dict):
        raise PoisonEvent("raw message event is not an object")
    return message


def evidence_key(row: Mapping[str, Any]) -> bytes:
    return str(row.get("sub") or row.get("client_id") or "anonymous").encode()


def encode_evidence(message: EvidenceMessage) -> bytes:
    return orjson.dumps({"v": VERSION, "row": message.row, "enrichment": message.enrichment})


def decode_evidence(value: bytes | None) -> EvidenceMessage:
    data = _object(value)
    row, enrichment = data.get("row"), data.get("enrichment", {})
    if not isinstance(row, dict) or not isinstance(enrichment, dict):
        raise PoisonEvent("evidence message lacks its row")
    if not row.get("event_id") or not row.get("event_hash"):
        raise PoisonEvent("evidence row lacks its identity")
    return EvidenceMessage(row, enrichment)


def encode_dead_letter(
    origin: tuple[str, int, int], code: str, reason: str, key: bytes | None, value: bytes | None
) -> bytes:
    topic, partition, offset = origin
    return orjson.dumps({
        "v": VERSION, "topic": topic, "partition": partition, "offset": offset,
        "code": code, "reason": reason,
        "key": base64.b64encode(key).decode() if key is not None else None,
        "value": base64.b64encode(value).decode() if value is not None else None,
    })  # fmt: skip
