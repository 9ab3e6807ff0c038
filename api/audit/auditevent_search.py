"""Search parameters of the FHIR AuditEvent view (pure): parse, validate, and bound in time.

`patient` (Patient/id or id), `agent` (the principal's sub), `date` (FHIR prefixes eq, gt,
ge, lt, le, sa, eb; repeatable, all must hold), `entity` (Type/id), `outcome` (0, 4, 8, 12;
comma list), `_count` (default 20, at most 100), `_cursor`. Anything else answers 400.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from api.errors import InvalidRequest
from evidence.core.queries import FOREVER_US

COUNT_DEFAULT = 20
COUNT_MAX = 100
SEARCH_PARAMS = {  # name → FHIR search parameter type (for the CapabilityStatement)
    "patient": "reference",
    "agent": "reference",
    "date": "date",
    "entity": "reference",
    "outcome": "token",
}
_CONTROL = frozenset({"_count", "_cursor", "_format"})
_JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_DATE_RE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_PREFIXES = frozenset({"eq", "gt", "ge", "lt", "le", "sa", "eb"})
_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Resume = tuple[int, str, int]  # (ts_us, event_id, parts of that row already delivered)


@dataclass(frozen=True, slots=True)
class AuditEventSearch:
    patient: str = ""
    agent: str = ""
    entity: str = ""  # "Type/id"
    since_us: int = 0
    until_us: int = FOREVER_US
    outcomes: tuple[int, ...] = ()
    count: int = COUNT_DEFAULT
    cursor: str = ""
    kept: list[tuple[str, str]] = field(default_factory=list)  # for self/next links


def parse_auditevent_search(params: list[tuple[str, str]]) -> AuditEventSearch:
    values: dict[str, list[str]] = {}
    for name, value in params:
        if name not in SEARCH_PARAMS and name not in _CONTROL:
            raise InvalidRequest(f"Unknown search parameter '{name[:64]}' for AuditEvent.")
        values.setdefault(name, []).append(value)
    _check_format(values.get("_format", []))
    since, until = 0, FOREVER_US
    for value in values.get("date", []):
        lo, hi = date_bounds(value)
        since, until = max(since, lo), min(until, hi)
    return AuditEventSearch(
        patient=_patient(_one(values, "patient")),
        agent=_agent(_one(values, "agent")),
        entity=_entity(_one(values, "entity")),
        since_us=since,
        until_us=until,
        outcomes=_outcomes(_one(values, "outcome")),
        count=_count(_one(values, "_count")),
        cursor=_one(values, "_cursor"),
        kept=[(k, v) for k, v in params if k != "_cursor"],
    )


def _one(values: dict[str, list[str]], name: str) -> str:
    given = values.get(name, [])
    if len(given) > 1:
        raise InvalidRequest(f"Parameter '{name}' may be given once.")
    return given[0].strip() if given else ""


def _check_format(formats: list[str]) -> None:
    if any(f.strip().lower() not in _JSON_FORMATS for f in formats):
        raise InvalidRequest("_format must be json for AuditEvent.")


def _patient(value: str) -> str:
    if not value:
        return ""
    rtype, _, rid = value.rstrip("/").rpartition("/")
    if (rtype and rtype.rpartition("/")[2] != "Patient") or not _ID_RE.fullmatch(rid):
        raise InvalidRequest("patient must be a Patient id or reference.")
    return rid


def _agent(value: str) -> str:
    if len(value) > 256 or "," in value:
        raise InvalidRequest("agent takes one principal (the token's sub).")
    return value


def _entity(value: str) -> str:
    if not value:
        return ""
    rtype, _, rid = value.rpartition("/")
    rtype = rtype.rpartition("/")[2]
    if not _TYPE_RE.fullmatch(rtype) or not _ID_RE.fullmatch(rid):
        raise InvalidRequest("entity must be a reference Type/id.")
    return f"{rtype}/{rid}"


def _outcomes(value: str) -> tuple[int, ...]:
    codes = set()
    for item in filter(None, (v.strip() for v in value.split(","))):
        system, bar, code = item.rpartition("|")
        if (bar and system not in ("", _OUTCOME_SYSTEM)) or code not in {"0", "4", "8", "12"}:
            raise InvalidRequest("outcome must be 0, 4, 8 or 12.")
        codes.add(int(code))
    return tuple(sorted(codes))


def _count(value: str) -> int:
    if not value:
        return COUNT_DEFAULT
    if not value.isdigit():
        raise InvalidRequest("_count must be a non-negative integer.")
    return min(int(value), COUNT_MAX)


def date_bounds(value: str) -> tuple[int, int]:
    """A FHIR date search value as [since, until) in µs: the instants it lets through."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in _PREFIXES:
        raise InvalidRequest("date supports the prefixes eq, gt, ge, lt, le, sa and eb.")
    try:
        lo, hi = date_range_us(text)
    except (ValueError, OverflowError):
        raise InvalidRequest("date needs a FHIR date or dateTime.") from None
    return {
        "eq": (lo, hi),
        "ge": (lo, FOREVER_US),
        "gt": (hi, FOREVER_US),
        "sa": (hi, FOREVER_US),
        "le": (0, hi),
        "lt": (0, lo),
        "eb": (0, lo),
    }[prefix]


def date_range_us(text: str) -> tuple[int, int]:
    """The half-open range [lo, hi) a FHIR date/dateTime of any precision stands for (UTC
    when it names no zone)."""
    if _DATE_RE.fullmatch(text):
        parts = [int(p) for p in text.split("-")]
        year, month, day = (*parts, 1, 1)[:3]
        lo = datetime(year, month, day, tzinfo=UTC)
        if len(parts) == 1:
            hi = lo.replace(year=lo.year + 1)
        elif len(parts) == 2:
            hi = lo.replace(year=lo.year + lo.month // 12, month=lo.month % 12 + 1)
        else:
            hi = lo + timedelta(days=1)
        return _us(lo), _us(hi)
    if "T" not in text:
        raise ValueError("not a date")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _us(moment), _us(moment) + _width_us(text)


def _width_us(text: str) -> int:
    """The precision of a dateTime's time part: minutes, seconds or a fraction."""
    clock = re.split(r"[Z+-]", text.partition("T")[2])[0]
    seconds, dot, fraction = clock.partition(".")
    if dot:
        return max(1, int(10 ** max(0, 6 - len(fraction))))
    return _US if seconds.count(":") == 2 else 60 * _US


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def page_parts(
    rows: list[dict[str, Any]], count: int, skip: int, fetched: int, patient_hash: str = ""
) -> tuple[list[tuple[dict[str, Any], int]], Resume | None]:
    """One page of AuditEvents (row, part) from rows read inclusively from the cursor row;
    `skip` parts of the first row were on earlier pages. Returns where the next page
    resumes: (ts_us, event_id, parts of that row already delivered), or None at the end."""
    page: list[tuple[dict[str, Any], int]] = []
    if count == 0:
        return page, None
    for n, row in enumerate(rows):
        parts = row_parts(row, patient_hash)
        for k in range(skip if n == 0 else 0, len(parts)):
            if len(page) == count:
                return page, (int(row["ts_us"]), str(row["event_id"]), k)
            page.append((row, parts[k]))
    if rows and len(rows) == fetched:
        last = rows[-1]
        return page, (int(last["ts_us"]), str(last["event_id"]), len(row_parts(last, patient_hash)))
    return page, None


def row_parts(row: dict[str, Any], patient_hash: str = "") -> list[int]:
    """The parts a row is rendered as (0: the whole row); with a patient filter only the
    part of that patient (BALP PatientQuery: one AuditEvent per patient)."""
    patients = list(row["patient_hashes"])
    if len(patients) <= 1:
        return [0]
    if patient_hash in patients:
        return [patients.index(patient_hash) + 1]
    return list(range(1, len(patients) + 1))


def encode_resume(resume: Resume) -> str:
    return f"{resume[0]}:{resume[1]}:{resume[2]}"


def decode_resume(position: str) -> Resume:
    """ValueError when malformed."""
    ts, _, rest = position.partition(":")
    event_id, _, skip = rest.rpartition(":")
    if not event_id:
        raise ValueError("no event id")
    return int(ts), event_id, int(skip)
