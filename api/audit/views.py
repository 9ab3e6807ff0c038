"""Evidence rows rendered for auditors (pure): no raw ids beyond what was asked for."""

from datetime import UTC, datetime, timedelta
from typing import Any

from api.errors import InvalidRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Evidence exists between these: an instant outside counts as the nearer one (what it selects
# is the same), which keeps every window's arithmetic within the calendar (no 5xx at 0001 or
# 9999).
_EARLIEST_US = 0
_LATEST_US = (datetime(9999, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def iso_from_us(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1_000_000, tz=UTC).isoformat(timespec="microseconds")


def parse_instant_us(value: str | None, default: int) -> int:
    if not value:
        return default
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("since and until must be ISO 8601 date-times.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        us = (moment - _EPOCH) // timedelta(microseconds=1)  # exact: a float would drift 1 µs
    except OverflowError:  # a valid instant at a calendar edge (0001 at +14:00, 9999 at -14:00)
        us = _EARLIEST_US if moment.year == 1 else _LATEST_US
    return min(max(us, _EARLIEST_US), _LATEST_US)


def access_view(row: dict[str, Any]) -> dict[str, Any]:
    stored_at = row.get("stored_at")
    return {
        "time": iso_from_us(int(row["ts_us"])),
        "event_id": row["event_id"],
        "request_id": row["request_id"],
        "trace_id": row["trace_id"],
        "principal": {
            "sub": row["sub"],
            "client_id": row["client_id"],
            "issuer": row["issuer"],
            "fhir_user": row["fhir_user"],
        },
        "token": {
            "alg": row["token_alg"],
            "kid": row["token_kid"],
            "jti_hash": row["token_jti_hash"],
            "model": row["token_model"],
            # Since event schema version 4; null where not known (never guessed).
            "type": row.get("token_type") or None,
            "idp_product": row.get("idp_product") or None,
            "idp_version": row.get("idp_version") or None,
        },
        "client_address": row.get("client_address_hash", ""),  # a keyed pseudonym; "" before v3
        "purpose_of_use": row["purpose_of_use"],
        "action": row["action"],
        "method": row["method"],
        "route": row["route"],
        "resource_type": row["resource_type"],
        "decision": row["decision"],
        "reasons": list(row["reasons"]),
        "status": int(row["status"]),
        "count_returned": int(row["count_returned"]),
        "count_withheld": int(row["count_withheld"]),
        "count_redacted": int(row.get("count_redacted", 0)),
        "scopes_granted": list(row["scopes_granted"]),
        "scopes_used": list(row["scopes_used"]),
        "patient_pseudonyms": list(row["patient_hashes"]),
        "resource_pseudonyms": list(row["resource_hashes"]),
        # Patients a search named outside the caller's reach (version 5; [] before).
        "probed_patient_pseudonyms": list(row.get("probed_patient_hashes", ())),
        "query_params": list(row["query_params"]),
        "policy_version": row["policy_version"],
        "key_version": int(row["key_version"]),
        "seal": {
            "producer_id": row["producer_id"],
            "sequence": int(row["sequence"]),
            "prev_hash": row["prev_hash"],
            "event_hash": row["event_hash"],
        },
        "recorded_at": _utc_iso(stored_at) if isinstance(stored_at, datetime) else None,
    }


def _utc_iso(moment: datetime) -> str:
    """chDB hands back naive UTC date-times, a server aware ones: both become UTC ISO."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
