"""Auditor views as NDJSON lines and CSV rows (pure): exports of access lists and reports.

CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) are prefixed
with an apostrophe: principal names and client ids come from tokens, i.e. from callers.
"""

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

import orjson

View = dict[str, Any]
Column = tuple[str, Callable[[View], Any]]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _joined(values: Iterable[Any]) -> str:
    return " ".join(str(v) for v in values)


ACCESS_COLUMNS: tuple[Column, ...] = (
    ("time", lambda v: v["time"]),
    ("request_id", lambda v: v["request_id"]),
    ("event_id", lambda v: v["event_id"]),
    ("principal", lambda v: v["principal"]["sub"]),
    ("client_id", lambda v: v["principal"]["client_id"]),
    ("issuer", lambda v: v["principal"]["issuer"]),
    ("fhir_user", lambda v: v["principal"]["fhir_user"]),
    ("action", lambda v: v["action"]),
    ("method", lambda v: v["method"]),
    ("resource_type", lambda v: v["resource_type"]),
    ("decision", lambda v: v["decision"]),
    ("status", lambda v: v["status"]),
    ("reasons", lambda v: _joined(v["reasons"])),
    ("purpose_of_use", lambda v: v["purpose_of_use"]),
    ("scopes_used", lambda v: _joined(v["scopes_used"])),
    ("count_returned", lambda v: v["count_returned"]),
    ("count_withheld", lambda v: v["count_withheld"]),
    ("count_redacted", lambda v: v["count_redacted"]),
    ("patient_pseudonyms", lambda v: _joined(v["patient_pseudonyms"])),
    ("policy_version", lambda v: v["policy_version"]),
    ("client_address", lambda v: v["client_address"]),
)

DISCLOSURE_COLUMNS: tuple[Column, ...] = (
    ("date", lambda v: v["date"]),
    ("recipient_principal", lambda v: v["recipient"]["principal"]),
    ("recipient_client", lambda v: v["recipient"]["client"]),
    ("recipient_issuer", lambda v: v["recipient"]["issuer"]),
    ("recipient_fhir_user", lambda v: v["recipient"]["fhir_user"]),
    ("description", lambda v: v["description"]),
    ("action", lambda v: v["disclosed"]["action"]),
    ("resource_types", lambda v: _joined(v["disclosed"]["resource_types"])),
    ("count_returned", lambda v: v["disclosed"]["count_returned"]),
    ("count_withheld", lambda v: v["disclosed"]["count_withheld"]),
    ("count_redacted", lambda v: v["disclosed"]["count_redacted"]),
    ("purpose", lambda v: v["purpose"]["code"]),
    ("purpose_display", lambda v: v["purpose"]["display"]),
    ("request_id", lambda v: v["request_id"]),
)


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def csv_header(columns: tuple[Column, ...]) -> str:
    return csv_lines([[name for name, _ in columns]])


def csv_rows(views: Iterable[View], columns: tuple[Column, ...]) -> str:
    return csv_lines([get(view) for _, get in columns] for view in views)


def ndjson_rows(views: Iterable[View]) -> bytes:
    return b"".join(orjson.dumps(view) + b"\n" for view in views)
