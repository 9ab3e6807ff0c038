"""Accounting of disclosures for one patient (HIPAA 45 CFR 164.528), pure.

A disclosure is an access that let data about the patient leave: a read, vread, search or
bulk-export download that was not denied, answered below 400 and returned something.
Each becomes the four elements 164.528(b)(2) asks for: the date, who received the data
(principal and client application), a brief description of what was disclosed (action,
resource types, counts) and the purpose (the token's purpose of use).
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from api.audit.views import iso_from_us
from evidence.core.queries import AccessFilter

DISCLOSING_ACTIONS = ("export.download", "read", "search", "vread")
AUDIT_ACTION_PREFIX = "audit."
PERIOD_YEARS = 6
PURPOSES = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment (break-glass)",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "PATRQT": "patient requested",
    "FAMRQT": "family requested",
    "PUBHLTH": "public health",
    "HRESCH": "healthcare research",
    "HLEGAL": "legal",
    "HMARKT": "marketing",
    "COVERAGE": "coverage under policy or program",
    "CLINTRCH": "clinical trial research",
    "HSYSADMIN": "health system administration",
}


def period_start_us(now_us: int, years: int = PERIOD_YEARS) -> int:
    """The same calendar instant `years` earlier (29 February falls back to the 28th)."""
    now = datetime.fromtimestamp(now_us / 1_000_000, tz=UTC)
    try:
        start = now.replace(year=now.year - years)
    except ValueError:
        start = now.replace(year=now.year - years, day=28)
    return int(start.timestamp() * 1_000_000)


def disclosure_filter(base: AccessFilter, include_audit: bool) -> AccessFilter:
    """Only accesses that disclosed data; auditor reads of evidence only when asked for."""
    return replace(
        base,
        decisions=("allow", "partial"),
        actions=DISCLOSING_ACTIONS,
        action_prefix=AUDIT_ACTION_PREFIX if include_audit else "",
        exclude_resource_type="" if include_audit else "AuditEvent",
        min_returned=1,
        status_below=400,
    )


def _description(row: dict[str, Any], types: list[str]) -> str:
    what = ", ".join(types) or "evidence"
    text = f"{row['action']} of {what}: {int(row['count_returned'])} returned"
    if int(row["count_withheld"]):
        text += f", {int(row['count_withheld'])} withheld"
    if int(row.get("count_redacted", 0)):
        text += f", {int(row['count_redacted'])} with fields removed"
    patients = len(row["patient_hashes"])
    if patients > 1:
        text += f" (the response covered {patients} patients)"
    return text


def disclosure_view(row: dict[str, Any]) -> dict[str, Any]:
    types = [t for t in str(row["resource_type"]).split(",") if t]
    purpose = str(row["purpose_of_use"])
    client = str(row["client_id"])
    return {
        "date": iso_from_us(int(row["ts_us"])),
        "recipient": {
            "name": f"{row['sub']} via {client}" if client else str(row["sub"]),
            "principal": row["sub"],
            "client": client,
            "issuer": row["issuer"],
            "fhir_user": row["fhir_user"],
        },
        "description": _description(row, types),
        "disclosed": {
            "action": row["action"],
            "resource_types": types,
            "count_returned": int(row["count_returned"]),
            "count_withheld": int(row["count_withheld"]),
            "count_redacted": int(row.get("count_redacted", 0)),
            "patients_in_response": len(row["patient_hashes"]),
        },
        "purpose": {"code": purpose, "display": PURPOSES.get(purpose, purpose)},
        "break_glass": purpose == "ETREAT",
        "decision": row["decision"],
        "request_id": row["request_id"],
        "event_id": row["event_id"],
    }
