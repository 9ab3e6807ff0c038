"""Kafka message bodies of the distributed runtime (pure: bytes in, plain data out).

One message carries a run of one principal's events (at most MAX_EVENTS, in order): per-
message costs in Kafka and faust are paid once per run, not once per event.

raw       {"v": 1, "producer_id", "events": [{"sequence", "prev_hash", "event_hash",
          "key_version", "event", "payload"}, ...]} keyed by the raw principal: the raw event
          (raw ids, for enrichment; short-retention topic) and the pseudonymous payload
          exactly as it was sealed at the source (canonical JSON text).
evidence  {"v": 1, "items": [{"row": <evidence row>, "enrichment": {...}}, ...]} keyed by
          the pseudonymous principal; nothing raw left.
dead      {"v": 1, "topic", "partition", "offset", "code", "reason", "key", "value"} with the
          original key and value base64-encoded, so nothing is lost when a message is parked.
"""

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream.outbox import OutboxRow
from stream.pipeline import PoisonEvent

VERSION = 1
MAX_EVENTS = 100  # per message: ~100 KB before compression, far below Kafka's 1 MB default
_RAW_FIELDS = ("sequence", "prev_hash", "event_hash", "key_version", "event", "payload")


@dataclass(frozen=True, slots=True)
class RawMessage:
    producer_id: str
    sequence: int
    prev_hash: str
    event_hash: str
    key_version: int
    event: dict[str, Any]
    payload: bytes


@dataclass(frozen=True, slots=True)
class EvidenceMessage:
    row: dict[str, Any]
    enrichment: dict[str, Any]


def raw_key(event: Mapping[str, Any]) -> bytes:
    """Partition key of a raw event: its principal (the client for anonymous requests)."""
    return str(event.get("sub") or event.get("client_id") or "anonymous").encode()


def principal_runs(rows: Sequence[OutboxRow]) -> list[tuple[bytes, list[OutboxRow]]]:
    """Split outbox rows into per-principal runs (order kept within each principal)."""
    runs: dict[bytes, list[list[OutboxRow]]] = {}
    for row in rows:
        chunks = runs.setdefault(raw_key(row.event), [[]])
        if len(chunks[-1]) >= MAX_EVENTS:
            chunks.append([])
        chunks[-1].append(row)
    return [(key, chunk) for key, chunks in runs.items() for chunk in chunks]


def encode_raw(rows: Sequence[OutboxRow], producer_id: str) -> bytes:
    return orjson.dumps({"v": VERSION, "producer_id": producer_id, "events": [
        {"sequence": row.sequence, "prev_hash": row.prev_hash, "event_hash": row.event_hash,
         "key_version": row.key_version, "event": row.event,
         "payload": row.payload.decode("utf-8")}
        for row in rows
    ]})  # fmt: skip


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


def raw_envelope(value: bytes | None) -> tuple[str, list[Any]]:
    """(producer id, the events as sent): raises PoisonEvent if the message is not one."""
    data = _object(value)
    events = data.get("events")
    if not isinstance(data.get("producer_id"), str) or not isinstance(events, list):
        raise PoisonEvent("raw message lacks its producer or events")
    return data["producer_id"], events


def decode_raw_event(producer_id: str, item: Any) -> RawMessage:
    if not isinstance(item, dict) or any(name not in item for name in _RAW_FIELDS):
        raise PoisonEvent("raw event lacks chain fields")
    try:
        message = RawMessage(
            producer_id, int(item["sequence"]), str(item["prev_hash"]),
            str(item["event_hash"]), int(item["key_version"]), item["event"],
            str(item["payload"]).encode("utf-8"),
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise PoisonEvent("raw event has malformed chain fields") from exc
    if not isinstance(message.event, dict):
        raise PoisonEvent("raw event is not an object")
    return message


def evidence_key(row: Mapping[str, Any]) -> bytes:
    """Partition key of an evidence row: its principal, as on the raw topic."""
    return raw_key(row)


def encode_evidence(messages: Sequence[EvidenceMessage]) -> bytes:
    return orjson.dumps({"v": VERSION, "items": [
        {"row": m.row, "enrichment": m.enrichment} for m in messages
    ]})  # fmt: skip


def decode_evidence(value: bytes | None) -> list[EvidenceMessage]:
    items = _object(value).get("items")
    if not isinstance(items, list) or not items:
        raise PoisonEvent("evidence message lacks its rows")
    decoded = []
    for item in items:
        row = item.get("row") if isinstance(item, dict) else None
        enrichment = item.get("enrichment", {}) if isinstance(item, dict) else None
        if not isinstance(row, dict) or not isinstance(enrichment, dict):
            raise PoisonEvent("evidence message lacks its row")
        if not row.get("event_id") or not row.get("event_hash"):
            raise PoisonEvent("evidence row lacks its identity")
        decoded.append(EvidenceMessage(row, enrichment))
    return decoded


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
