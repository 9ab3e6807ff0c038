"""The pseudonymous evidence form of an AccessEvent, and the row the store keeps.

`evidence_payload` is the part that is hash-chained: every raw identifier replaced by its
keyed pseudonym (those inside scope strings too: `evidence.core.scrub`), nothing derived.
`to_evidence_record` adds the seal and enrichment.
"""

from dataclasses import dataclass
from typing import Any

from evidence.core.chain import chain_hash
from evidence.core.event import AccessEvent, event_to_dict
from evidence.core.pseudonym import Pseudonymizer, sha256_hex
from evidence.core.scrub import pseudonymous_scope

_RAW_ID_FIELDS = (
    "context_patient_id", "patient_ids", "resource_ids", "client_address", "probed_patient_ids",
)  # fmt: skip
_MICROS_PER_HOUR = 3_600_000_000
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def evidence_payload(event: AccessEvent, pseudonymizer: Pseudonymizer) -> dict[str, Any]:
    """The event with raw identifiers replaced by keyed pseudonyms (and the key version)."""
    data = event_to_dict(event)
    for name in _RAW_ID_FIELDS:
        del data[name]
    data["context_patient_hash"] = (
        pseudonymizer.patient(event.context_patient_id) if event.context_patient_id else ""
    )
    data["patient_hashes"] = sorted({pseudonymizer.patient(p) for p in event.patient_ids})
    data["resource_hashes"] = sorted({pseudonymizer.reference(r) for r in event.resource_ids})
    data["probed_patient_hashes"] = sorted(
        {pseudonymizer.patient(p) for p in event.probed_patient_ids}
    )
    address = event.client_address
    data["client_address_hash"] = pseudonymizer.client_address(address) if address else ""
    data["fhir_user"] = _pseudonymous_user(event.fhir_user, pseudonymizer)
    for name in ("scopes_granted", "scopes_used"):  # granular values may name patients
        data[name] = [pseudonymous_scope(s, pseudonymizer) for s in data[name]]
    data["key_version"] = pseudonymizer.key_version
    known = _KNOWN_FIELDS.get(event.schema_version) or frozenset(
        payload_fields(event.schema_version)
    )
    return {name: value for name, value in data.items() if name in known}


def _pseudonymous_user(fhir_user: str, pseudonymizer: Pseudonymizer) -> str:
    """A patient acting as the user ("[base/]Patient/id") is a raw patient id: hash the id."""
    base, _, rid = fhir_user.rpartition("/")
    if not rid or base.rpartition("/")[2] != "Patient":
        return fhir_user
    return f"{base}/{pseudonymizer.patient(rid)}"


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One row of the evidence store: payload + seal + enrichment (no raw ids)."""

    payload: dict[str, Any]
    producer_id: str
    sequence: int
    prev_hash: str
    event_hash: str
    hour_of_week: int

    def as_row(self) -> dict[str, Any]:
        row = dict(self.payload)
        row.update(
            producer_id=self.producer_id,
            sequence=self.sequence,
            prev_hash=self.prev_hash,
            event_hash=self.event_hash,
            hour_of_week=self.hour_of_week,
        )
        return row


def hour_of_week(ts_us: int) -> int:
    """0..167, Monday 00h = 0, in UTC."""
    hours = ts_us // _MICROS_PER_HOUR
    weekday = (hours // 24 + _EPOCH_WEEKDAY) % 7
    return weekday * 24 + hours % 24


def jti_hash(jti: str) -> str:
    return sha256_hex(jti.encode("utf-8"))[:32] if jti else ""


def to_evidence_record(
    payload: dict[str, Any], producer_id: str, sequence: int, prev_hash: str, event_hash: str
) -> EvidenceRecord:
    return EvidenceRecord(
        payload=payload,
        producer_id=producer_id,
        sequence=sequence,
        prev_hash=prev_hash,
        event_hash=event_hash,
        hour_of_week=hour_of_week(int(payload["ts_us"])),
    )


PAYLOAD_FIELDS_V1: tuple[str, ...] = (
    "event_id",
    "request_id",
    "trace_id",
    "ts_us",
    "method",
    "route",
    "action",
    "resource_type",
    "decision",
    "status",
    "reasons",
    "sub",
    "client_id",
    "issuer",
    "token_alg",
    "token_kid",
    "token_jti_hash",
    "token_model",
    "fhir_user",
    "context_patient_hash",
    "purpose_of_use",
    "scopes_granted",
    "scopes_used",
    "patient_hashes",
    "resource_hashes",
    "query_params",
    "count_returned",
    "count_withheld",
    "policy_version",
    "schema_version",
    "key_version",
)
PAYLOAD_FIELDS_BY_VERSION: dict[int, tuple[str, ...]] = {
    1: PAYLOAD_FIELDS_V1,
    2: (*PAYLOAD_FIELDS_V1, "count_redacted"),
    3: (*PAYLOAD_FIELDS_V1, "count_redacted", "client_address_hash"),
    4: (
        *PAYLOAD_FIELDS_V1,
        "count_redacted",
        "client_address_hash",
        "token_type",
        "idp_product",
        "idp_version",
    ),
}
PAYLOAD_FIELDS_BY_VERSION[5] = (*PAYLOAD_FIELDS_BY_VERSION[4], "probed_patient_hashes")
PAYLOAD_FIELDS = PAYLOAD_FIELDS_BY_VERSION[max(PAYLOAD_FIELDS_BY_VERSION)]  # every column
LIST_FIELDS = frozenset(
    {
        "reasons",
        "scopes_granted",
        "scopes_used",
        "patient_hashes",
        "resource_hashes",
        "query_params",
        "probed_patient_hashes",
    }
)
INT_FIELDS = frozenset(
    {
        "ts_us",
        "status",
        "count_returned",
        "count_withheld",
        "count_redacted",
        "schema_version",
        "key_version",
    }
)


_KNOWN_FIELDS = {version: frozenset(names) for version, names in PAYLOAD_FIELDS_BY_VERSION.items()}


def payload_fields(schema_version: int) -> tuple[str, ...]:
    """The fields hashed for an event of this schema version (older events keep theirs)."""
    fields = PAYLOAD_FIELDS_BY_VERSION.get(int(schema_version))
    if fields is None:
        raise ValueError(f"unknown event schema version {schema_version}")
    return fields


def payload_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the hashed payload from a stored row (the inverse of `as_row`)."""
    payload: dict[str, Any] = {}
    for name in payload_fields(row["schema_version"]):
        value = row[name]
        if name in LIST_FIELDS:
            value = list(value)
        elif name in INT_FIELDS:
            value = int(value)
        payload[name] = value
    return payload


def row_matches_hash(row: dict[str, Any]) -> bool:
    """The stored row's content hashes to its `event_hash` (the chain hash: producer,
    sequence, predecessor and canonical payload); False for a row that cannot be read."""
    try:
        payload = payload_from_row(row)
        recomputed = chain_hash(row["producer_id"], int(row["sequence"]), row["prev_hash"], payload)
    except (KeyError, TypeError, ValueError):
        return False
    return bool(recomputed == row["event_hash"])
