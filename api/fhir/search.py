"""Search guardrails: the allow-list of parameters and their typed parsing into neutral
criteria (api.data.query), which every FHIR data adapter answers.

Unknown parameters, modifiers, chains, `_has`, `_filter` and malformed values are refused
with InvalidRequest (400 query.invalid).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from api.data.indexing import (
    SEARCH_PARAMS,
    SearchParam,
    parse_fhir_date,
)
from api.data.matching import indexed, meets_one_of
from api.data.query import (
    Criterion,
    DateIn,
    DateRange,
    IdIn,
    Prefix,
    QuantityIn,
    QuantityRange,
    ReferenceIn,
    SortKey,
    StringStartsWith,
    TokenIn,
)
from api.errors import InvalidRequest, NotAcceptable
from api.fhir.negotiation import JSON_FORMATS

COUNT_DEFAULT = 20
COUNT_MAX = 100
SUMMARY_MODES = frozenset({"true", "text", "data", "count", "false"})
CONTROL_PARAMS = frozenset(
    {"_count", "_elements", "_summary", "_cursor", "_format", "_include", "_revinclude", "_sort",
     "_total", "_pretty"}
)  # fmt: skip
TOTAL_MODES = frozenset({"none", "estimate", "accurate"})  # the total given is always exact
SORTABLE_KINDS = frozenset({"date", "string"})
# What may be included: (source type, reference parameter) -> the type it points at.
INCLUDES: dict[tuple[str, str], str] = {
    ("Observation", "patient"): "Patient", ("Observation", "subject"): "Patient",
    ("Observation", "encounter"): "Encounter", ("Encounter", "patient"): "Patient",
    ("Encounter", "subject"): "Patient", ("Encounter", "participant"): "Practitioner",
    ("Condition", "patient"): "Patient", ("Condition", "encounter"): "Encounter",
    ("MedicationRequest", "patient"): "Patient", ("MedicationRequest", "encounter"): "Encounter",
    ("MedicationRequest", "requester"): "Practitioner", ("CareTeam", "patient"): "Patient",
    ("CareTeam", "participant"): "Practitioner",
}  # fmt: skip
MAX_INCLUDES = 5
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_ELEMENT_RE = re.compile(r"^[a-zA-Z][A-Za-z0-9]{0,63}$")
_DATE_PREFIXES = {"eq", "gt", "lt", "ge", "le"}
_NUMBER_RE = re.compile(r"^-?\d{1,12}(\.\d{1,8})?$")
_MAX_VALUE_LEN = 256
_MAX_PARAMS = 30


@dataclass(slots=True)
class SearchRequest:
    resource_type: str = ""
    criteria: list[Criterion] = field(default_factory=list)
    count: int = COUNT_DEFAULT
    elements: tuple[str, ...] = ()
    summary: str = ""
    cursor: str = ""
    sort: list[SortKey] = field(default_factory=list)
    includes: list[tuple[str, str]] = field(default_factory=list)  # (source type, param)
    revincludes: list[tuple[str, str]] = field(default_factory=list)
    param_names: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # lenient mode: names left out
    fingerprint_params: list[tuple[str, str]] = field(default_factory=list)


def parse_search(
    resource_type: str, params: list[tuple[str, str]], lenient: bool = False
) -> SearchRequest:
    """The typed search; `lenient` (Prefer: handling=lenient) ignores and reports what
    strict mode refuses. The cursor fingerprint covers every parameter that was used."""
    if len(params) > _MAX_PARAMS:
        raise InvalidRequest("Too many search parameters.")
    request = SearchRequest(resource_type=resource_type)
    for name, value in params:
        request.param_names.append(name)
        try:
            _one_param(request, name, value)
        except InvalidRequest:
            if not lenient:
                raise
            request.ignored.append(name)
            continue
        if name != "_cursor":
            request.fingerprint_params.append((name, value))
    _check_include_sources(resource_type, request)
    request.fingerprint_params.sort()
    return request


def _one_param(request: SearchRequest, name: str, value: str) -> None:
    if len(value) > _MAX_VALUE_LEN:
        raise InvalidRequest(f"The value of parameter '{_safe(name)}' is too long.")
    if name in CONTROL_PARAMS:
        _control(request, name, value)
        return
    allowed = SEARCH_PARAMS[request.resource_type]
    if name not in allowed:
        raise InvalidRequest(f"Unknown or unsupported search parameter '{_safe(name)}'.")
    request.criteria.append(_criterion(allowed[name], value))


def _check_include_sources(resource_type: str, request: SearchRequest) -> None:
    if any(source != resource_type for source, _ in request.includes):
        raise InvalidRequest("_include must name the searched type as its source.")
    if any(INCLUDES[pair] != resource_type for pair in request.revincludes):
        raise InvalidRequest("_revinclude must point at the searched type.")


def _safe(name: str) -> str:
    """Echo a parameter name only when it is harmless (no markup, bounded)."""
    return name if re.fullmatch(r"[A-Za-z0-9_:.\-]{1,40}", name) else "?"


def _control(request: SearchRequest, name: str, value: str) -> None:
    if name == "_count":
        if not value.isdigit():
            raise InvalidRequest("_count must be a non-negative integer.")
        request.count = min(int(value), COUNT_MAX)
    elif name == "_elements":
        elements = tuple(e.strip() for e in value.split(",") if e.strip())
        if not elements or not all(_ELEMENT_RE.match(e) for e in elements):
            raise InvalidRequest("_elements must list element names.")
        request.elements = elements
    elif name == "_summary":
        if value not in SUMMARY_MODES:
            raise InvalidRequest("_summary must be one of true, text, data, count, false.")
        request.summary = value
    elif name == "_format":
        if value.strip().lower() not in JSON_FORMATS:
            raise NotAcceptable()
    elif name == "_total":
        if value not in TOTAL_MODES:
            raise InvalidRequest("_total must be one of none, estimate, accurate.")
    elif name == "_pretty":
        if value not in {"true", "false"}:
            raise InvalidRequest("_pretty must be true or false.")
    elif name in {"_include", "_revinclude"}:
        _include(request, name, value)
    elif name == "_sort":
        request.sort = _sort_keys(request.resource_type, value)
    else:
        request.cursor = value


def _sort_keys(resource_type: str, value: str) -> list[SortKey]:
    """`_sort=a,-b`: only `_id`, `_lastUpdated` and the type's date and string parameters."""
    keys: list[SortKey] = []
    for item in (part.strip() for part in value.split(",")):
        name, descending = (item[1:], True) if item.startswith("-") else (item, False)
        param = SEARCH_PARAMS[resource_type].get(name)
        sortable = name in {"_id", "_lastUpdated"} or (
            param is not None and param.kind in SORTABLE_KINDS
        )
        if not sortable or param is None:
            raise InvalidRequest(f"Cannot sort on '{_safe(name)}'.")
        keys.append(SortKey(name, param.kind, descending))
    if len(keys) > 3:
        raise InvalidRequest("At most three sort keys.")
    return keys


def _include(request: SearchRequest, name: str, value: str) -> None:
    """`_include=Source:param[:Target]`, only pairs the registry lists; no `:iterate`."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or (parts[0], parts[1]) not in INCLUDES:
        raise InvalidRequest(f"{name} value is not supported here.")
    if len(parts) == 3 and parts[2] != INCLUDES[(parts[0], parts[1])]:
        raise InvalidRequest(f"{name} target type is not supported here.")
    pair = (parts[0], parts[1])
    listing = request.includes if name == "_include" else request.revincludes
    if len(request.includes) + len(request.revincludes) >= MAX_INCLUDES:
        raise InvalidRequest("Too many _include/_revinclude parameters.")
    if pair not in listing:
        listing.append(pair)


def _criterion(param: SearchParam, value: str) -> Criterion:
    alternatives = [v for v in value.split(",") if v]
    if not alternatives:
        raise InvalidRequest(f"Parameter '{param.name}' needs a value.")
    if param.name == "_id":
        return IdIn(tuple(alternatives))
    if param.kind == "token":
        return TokenIn(param.name, tuple(alternatives))
    if param.kind == "reference":
        return ReferenceIn(param.name, tuple(_reference(param, v) for v in alternatives))
    if param.kind == "string":
        return StringStartsWith(param.name, tuple(v.lower() for v in alternatives))
    if param.kind == "quantity":
        return QuantityIn(param.name, tuple(_quantity(param.name, v) for v in alternatives))
    return DateIn(param.name, tuple(_date(param.name, v) for v in alternatives))


def _prefixed(value: str) -> tuple[str, str]:
    return (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)


def _quantity(name: str, value: str) -> QuantityRange:
    """`[prefix]number[|system|code]`; eq means within the precision of the number given."""
    number_text, _, unit = value.partition("|")
    prefix, text = _prefixed(number_text)
    if prefix not in _DATE_PREFIXES or not _NUMBER_RE.match(text):
        raise InvalidRequest(f"Parameter '{name}' needs [prefix]number[|system|code].")
    number = float(text)
    half = 0.5 * 10.0 ** -len(text.partition(".")[2])
    system, _, code = unit.partition("|")
    unit = (f"{system}|{code}" if system else code) if code else ""
    return QuantityRange(Prefix(prefix), number, number - half, number + half, unit)


def _reference(param: SearchParam, value: str) -> str:
    rtype, _, rid = value.rpartition("/")
    rtype = rtype or param.target or "Patient"
    if not _ID_RE.match(rid) or (param.target and rtype != param.target):
        raise InvalidRequest(f"Parameter '{param.name}' needs a reference like Type/id.")
    if not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", rtype):
        raise InvalidRequest(f"Parameter '{param.name}' needs a reference like Type/id.")
    return f"{rtype}/{rid}"


def _date(name: str, value: str) -> DateRange:
    prefix, text = _prefixed(value)
    if prefix not in _DATE_PREFIXES:
        raise InvalidRequest(f"Date prefix not supported for '{name}'.")
    try:
        start, end = parse_fhir_date(text)
    except (ValueError, IndexError, OverflowError) as exc:
        raise InvalidRequest(f"Parameter '{name}' needs a FHIR date.") from exc
    return DateRange(Prefix(prefix), start, end)


def valid_id(resource_id: str) -> bool:
    return bool(_ID_RE.match(resource_id))


def constraint_alternatives(
    resource_type: str, constraints: tuple[tuple[tuple[str, str], ...], ...]
) -> tuple[tuple[Criterion, ...], ...]:
    """Granular-scope constraints as criteria; one that does not parse matches nothing."""
    return tuple(_constraint_criteria(resource_type, constraint) for constraint in constraints)


def _constraint_criteria(
    resource_type: str, constraint: tuple[tuple[str, str], ...]
) -> tuple[Criterion, ...]:
    try:
        return tuple(parse_search(resource_type, list(constraint)).criteria)
    except InvalidRequest:
        return ()


def resource_satisfies(
    resource: dict[str, Any], constraints: tuple[tuple[tuple[str, str], ...], ...]
) -> bool:
    """Granular-scope constraints judged on a resource body (a write not stored yet, a Group
    to export): the same criteria, and the same meaning, as the data port's searches."""
    if not constraints:
        return True
    alternatives = constraint_alternatives(str(resource.get("resourceType")), constraints)
    return meets_one_of(alternatives, indexed(resource))


def ignored_outcome(ignored: list[str]) -> dict[str, Any]:
    """The OperationOutcome entry a lenient search adds for what it left out."""
    names = ", ".join(sorted({_safe(name) for name in ignored}))
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": f"Search parameters ignored: {names}.",
            }
        ],
    }
