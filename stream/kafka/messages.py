"""Kafka message bodies of the distributed runtime (pure: bytes in, plain data out).

One message carries a run of one principal's events (at most MAX_EVENTS, in order): per-
message costs in Kafka and faust are paid once per run, not once per event.

raw       {"v": 1, "producer_id", "events": [{"sequence", "prev_hash", "event_hash",
          "key_version", "event", "payload"}, ...]} keyed by the raw principal: outbox rows
          as they are, the raw event (raw ids, for enrichment; short-retention topic) and
          the pseudonymous payload exactly as it was sealed at the source (canonical JSON).
dead      {"v": 1, "topic", "partition", "offset", "code", "reason", "key", "value"} with the
          original key and value base64-encoded, so nothing is lost when a message is parked.
"""

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from stream.outbox import OutboxRow
from stream.sealed import EMPTY, NOT_JSON, SCHEMA, PoisonEvent

VERSION = 1
MAX_EVENTS = 100  # per message: ~100 KB before compression, far below Kafka's 1 MB default
_RAW_FIELDS = frozenset({"sequence", "prev_hash", "event_hash", "key_version", "event", "payload"})


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


def raw_item(row: OutboxRow) -> dict[str, Any]:
    """One event of a raw message (its producer is the message's)."""
    return {"sequence": row.sequence, "prev_hash": row.prev_hash, "event_hash": row.event_hash,
            "key_version": row.key_version, "event": row.event,
            "payload": row.payload.decode("utf-8")}  # fmt: skip


def encode_raw(rows: Sequence[OutboxRow], producer_id: str) -> bytes:
    return orjson.dumps(
        {"v": VERSION, "producer_id": producer_id, "events": [raw_item(row) for row in rows]}
    )


def _object(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise PoisonEvent("empty message", EMPTY)
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonEvent("message is not JSON", NOT_JSON) from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise PoisonEvent("message is not a version 1 object", SCHEMA)
    return data


def raw_envelope(value: bytes | None) -> tuple[str, list[Any]]:
    """(producer id, the events as sent): raises PoisonEvent if the message is not one."""
    data = _object(value)
    events = data.get("events")
    if not isinstance(data.get("producer_id"), str) or not isinstance(events, list):
        raise PoisonEvent("raw message lacks its producer or events", SCHEMA)
    return data["producer_id"], events


def decode_raw_event(producer_id: str, item: Any) -> OutboxRow:
    """The outbox row one event of a raw message carries."""
    if not isinstance(item, dict) or not item.keys() >= _RAW_FIELDS:
        raise PoisonEvent("raw event lacks chain fields", SCHEMA)
    try:
        row = OutboxRow(
            int(item["sequence"]), item["event"], str(item["payload"]).encode("utf-8"),
            str(item["prev_hash"]), str(item["event_hash"]), int(item["key_version"]),
            producer_id,
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise PoisonEvent("raw event has malformed chain fields", SCHEMA) from exc
    if not isinstance(row.event, dict):
        raise PoisonEvent("raw event is not an object", SCHEMA)
    return row


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
