"""What a token confined to one patient's evidence sees of a row (pure): accesses to that
patient only, with nothing of the other patients the same request touched.

A request may have touched several patients (a search, an export). Shown to a token that
may read one patient's evidence only, its row keeps that patient's pseudonym alone; the
resource pseudonyms go too when other patients were touched (they cannot be told apart
from the others' resources), and so does another patient acting as the user (with the
pseudonym of the address it called from); granular scope constraints are withheld from the
scope strings (they may name other patients).
Counts stay: they say how large the disclosure was, not whom it was about.
"""

from typing import Any

__all__ = ["WITHHELD", "own_patient_details", "own_patient_row"]

WITHHELD = "?(constraints withheld)"


def own_patient_row(row: dict[str, Any], own_hash: str) -> dict[str, Any]:
    """The row as the patient of `own_hash` may see it."""
    patients = list(row["patient_hashes"])
    shown = own_patient_details(row, own_hash)
    shown["patient_hashes"] = [own_hash] if own_hash in patients else []
    if any(p != own_hash for p in patients):
        shown["resource_hashes"] = []
    return shown


def own_patient_details(row: dict[str, Any], own_hash: str) -> dict[str, Any]:
    """The row without what else could name another patient: scope constraints, another
    patient acting as the user, another token patient (the FHIR view's parts already keep
    one patient's entity each)."""
    shown = dict(row)
    if "context_patient_hash" in shown and shown["context_patient_hash"] != own_hash:
        shown["context_patient_hash"] = ""
    path, _, user_id = str(row.get("fhir_user", "")).rpartition("/")
    if path.rpartition("/")[2] == "Patient" and user_id != own_hash:
        shown["fhir_user"] = "Patient/(withheld)"  # another patient acting as the user
        if shown.get("client_address_hash"):
            shown["client_address_hash"] = ""  # ... and where that patient called from
    for name in ("scopes_granted", "scopes_used"):
        shown[name] = [_without_constraints(s) for s in row.get(name, ())]
    if "probed_patient_hashes" in shown:  # other patients a search named (version 5)
        shown["probed_patient_hashes"] = [p for p in row["probed_patient_hashes"] if p == own_hash]
    return shown


def _without_constraints(scope: str) -> str:
    head, question, _ = str(scope).partition("?")
    return head + WITHHELD if question else head
