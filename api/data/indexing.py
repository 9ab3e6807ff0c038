"""Search parameters per type and the index values extracted from resources (pure).

Kinds: token ("code" and "system|code"), string (lower-cased), reference ("Type/id"),
date (a [lo, hi] UTC range as ISO strings), quantity (the unit as value, the number in lo/hi
as a sortable text). Every search parameter the API accepts is here.
"""

import calendar
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.security.compartment import owner_patient as owner_patient  # re-exported

Resource = dict[str, Any]
OPEN_END = "9999-12-31T24:00:00"  # a Period without an end: after every date there is
IndexValue = tuple[str, str, str]  # (value, lo, hi)


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    kind: str  # token | string | reference | date
    paths: tuple[str, ...]  # dotted paths into the resource
    target: str = ""  # reference target type, when fixed


def _p(name: str, kind: str, *paths: str, target: str = "") -> SearchParam:
    return SearchParam(name, kind, paths, target)


_SUBJECT = (
    _p("patient", "reference", "subject", target="Patient"),
    _p("subject", "reference", "subject"),
)
_COMMON = (_p("_id", "token", "id"), _p("_lastUpdated", "date", "meta.lastUpdated"))
_PERSON = (
    _p("name", "string", "name.family", "name.given", "name.text"),
    _p("family", "string", "name.family"),
    _p("given", "string", "name.given"),
    _p("identifier", "token", "identifier"),
)
SEARCH_PARAMS: dict[str, dict[str, SearchParam]] = {
    rtype: {p.name: p for p in (*_COMMON, *params)}
    for rtype, params in {
        "Patient": (
            *_PERSON,
            _p("gender", "token", "gender"),
            _p("birthdate", "date", "birthDate"),
            _p("active", "token", "active"),
        ),
        "Practitioner": (*_PERSON, _p("active", "token", "active")),
        "Encounter": (
            *_SUBJECT,
            _p("status", "token", "status"),
            _p("class", "token", "class"),
            _p("type", "token", "type"),
            _p("date", "date", "period"),
            _p("participant", "reference", "participant.individual"),
        ),
        "Observation": (
            *_SUBJECT,
            _p("category", "token", "category"),
            _p("code", "token", "code"),
            _p("date", "date", "effectiveDateTime"),
            _p("status", "token", "status"),
            _p("encounter", "reference", "encounter", target="Encounter"),
            _p("value-quantity", "quantity", "valueQuantity"),
        ),
        "Condition": (
            *_SUBJECT,
            _p("code", "token", "code"),
            _p("clinical-status", "token", "clinicalStatus"),
            _p("category", "token", "category"),
            _p("onset-date", "date", "onsetDateTime"),
            _p("encounter", "reference", "encounter", target="Encounter"),
        ),
        "MedicationRequest": (
            *_SUBJECT,
            _p("status", "token", "status"),
            _p("intent", "token", "intent"),
            _p("code", "token", "medicationCodeableConcept"),
            _p("authoredon", "date", "authoredOn"),
            _p("requester", "reference", "requester"),
        ),
        "CareTeam": (
            *_SUBJECT,
            _p("status", "token", "status"),
            _p("participant", "reference", "participant.member"),
            _p("category", "token", "category"),
        ),
        "Group": (_p("member", "reference", "member.entity"), _p("type", "token", "type")),
    }.items()
}


def walk(node: Any, path: list[str]) -> Iterator[Any]:
    """Every value at a dotted path, flattening lists on the way."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item, path)
        return
    if not path:
        if node is not None:
            yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from walk(node[path[0]], path[1:])


def token_values(value: Any) -> Iterator[str]:
    if isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        codings = value.get("coding", [value])
        for coding in codings:
            code = coding.get("code") or coding.get("value")
            if isinstance(code, str):
                yield code
                if coding.get("system"):
                    yield f"{coding['system']}|{code}"


def parse_fhir_date(text: str) -> tuple[str, str]:
    """A FHIR date/dateTime/instant as a [lo, hi] range of UTC ISO seconds; ValueError if bad.

    Every valid FHIR date has a range, years 0001 and 9999 with any offset included: a moment
    before 0001-01-01T00:00:00Z (0001-01-01T00:00:00+14:00) keeps its UTC text in year 0000,
    one after 9999-12-31T23:59:59Z (9999-12-31T23:59:59-14:00) counts as that last second.
    """
    if len(text) == 4:
        year = int(text)
        return _iso(datetime(year, 1, 1, tzinfo=UTC)), _iso(_last_second(year, 12, 31))
    if len(text) == 7:
        year, month = int(text[:4]), int(text[5:7])
        lo = datetime(year, month, 1, tzinfo=UTC)
        return _iso(lo), _iso(_last_second(year, month, calendar.monthrange(year, month)[1]))
    if len(text) == 10:
        day = datetime.fromisoformat(text)
        return _iso(day.replace(tzinfo=UTC)), _iso(_last_second(day.year, day.month, day.day))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _iso(moment), _iso(moment)


def _last_second(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    """UTC seconds as text that sorts in time order (the year always four digits)."""
    offset = moment.utcoffset() or timedelta(0)
    local = moment.replace(tzinfo=None)
    try:
        utc = local - offset
    except OverflowError:
        if offset < timedelta(0):  # after 9999-12-31T23:59:59Z
            return "9999-12-31T23:59:59"
        shifted = local.replace(year=local.year + 400) - offset  # the calendar repeats
        return _text(shifted, shifted.year - 400)
    return _text(utc, utc.year)


def _text(moment: datetime, year: int) -> str:
    return f"{year:04d}-{moment:%m-%dT%H:%M:%S}"


def _date_values(value: Any) -> Iterator[IndexValue]:
    """A date or a Period as its range; a value that is no FHIR date is not indexed (the
    write validated the body: this never turns a stored resource into an error)."""
    try:
        if isinstance(value, str):
            lo, hi = parse_fhir_date(value)
            yield "", lo, hi
        elif isinstance(value, dict) and ("start" in value or "end" in value):
            lo = parse_fhir_date(value["start"])[0] if "start" in value else "0000"
            hi = parse_fhir_date(value["end"])[1] if "end" in value else OPEN_END
            yield "", lo, hi
    except (ValueError, TypeError, OverflowError):
        return


def _values_for(param: SearchParam, raw: Any) -> Iterator[IndexValue]:
    if param.kind == "token":
        for token in token_values(raw):
            yield token, "", ""
    elif param.kind == "string" and isinstance(raw, str):
        yield raw.lower(), "", ""
    elif param.kind == "reference" and isinstance(raw, dict):
        ref = raw.get("reference")
        if isinstance(ref, str):
            yield ref, "", ""
    elif param.kind == "date":
        yield from _date_values(raw)
    elif param.kind == "quantity":
        yield from _quantity_values(raw)


def sortable_number(number: float) -> str:
    """A text whose byte order is the numbers' order (IEEE 754 bits, sign-adjusted)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", float(number)))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return f"{bits:016x}"


def _quantity_values(raw: Any) -> Iterator[IndexValue]:
    """A Quantity as its unit (`code` and `system|code`) with the number in lo = hi."""
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), int | float):
        return
    number = sortable_number(raw["value"])
    code = raw.get("code") or raw.get("unit") or ""
    yield str(code), number, number
    if raw.get("system") and code:
        yield f"{raw['system']}|{code}", number, number


def index_entries(resource: Resource) -> list[tuple[str, str, str, str]]:
    """(param, value, lo, hi) rows for the search index of one resource."""
    params = SEARCH_PARAMS.get(resource.get("resourceType", ""), {})
    entries: set[tuple[str, str, str, str]] = set()
    for param in params.values():
        for path in param.paths:
            for raw in walk(resource, path.split(".")):
                entries.update((param.name, *value) for value in _values_for(param, raw))
    return sorted(entries)


def security_labels(resource: Resource) -> frozenset[str]:
    labels = resource.get("meta", {}).get("security", [])
    return frozenset(str(label.get("code")) for label in labels if label.get("code"))


def care_team_links(resource: Resource) -> list[tuple[str, str]]:
    """(practitioner reference, patient id) pairs of an active CareTeam."""
    if resource.get("resourceType") != "CareTeam" or resource.get("status") != "active":
        return []
    patient = owner_patient(resource)
    members = walk(resource, ["participant", "member", "reference"])
    return [(m, patient) for m in members if patient and str(m).startswith("Practitioner/")]
