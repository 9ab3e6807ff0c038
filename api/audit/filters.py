"""The auditor endpoints' filters (pure): query parameters → an AccessFilter, validated.

`decision` (allow|deny|partial, comma list), `action` (comma list), `resource_type`,
`client` narrow a patient's or a principal's accesses; `since`/`until` bound the time.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace

import orjson

from api.errors import InvalidRequest
from evidence.core.queries import AccessFilter

DECISIONS = frozenset({"allow", "deny", "partial"})
FILTER_PARAMS = ("decision", "action", "resource_type", "client")
_ACTION_RE = re.compile(r"[A-Za-z][A-Za-z0-9._$-]{0,63}")
_TYPE_RE = re.compile(r"[A-Za-z]{1,64}")
_MAX_VALUES = 20


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """Every value of a parameter, repeated or comma-separated, blanks dropped."""
    values = [v.strip() for raw in params.get(name, ()) for v in raw.split(",") if v.strip()]
    if len(values) > _MAX_VALUES:
        raise InvalidRequest(f"Too many values for {name}.")
    return values


def _single(params: Mapping[str, Sequence[str]], name: str) -> str:
    values = _values(params, name)
    if len(values) > 1:
        raise InvalidRequest(f"{name} takes one value.")
    return values[0] if values else ""


def access_filter(
    params: Mapping[str, Sequence[str]], since_us: int, until_us: int
) -> AccessFilter:
    """The filter asked for by `params` (name → every value given), within the window."""
    decisions = _values(params, "decision")
    if not set(decisions) <= DECISIONS:
        raise InvalidRequest("decision must be allow, deny or partial.")
    actions = _values(params, "action")
    if not all(_ACTION_RE.fullmatch(a) for a in actions):
        raise InvalidRequest("action is malformed.")
    rtype = _single(params, "resource_type")
    if rtype and not _TYPE_RE.fullmatch(rtype):
        raise InvalidRequest("resource_type is malformed.")
    client = _single(params, "client")
    if len(client) > 200:
        raise InvalidRequest("client is too long.")
    return AccessFilter(
        since_us=since_us,
        until_us=until_us,
        decisions=tuple(sorted(set(decisions))),
        actions=tuple(sorted(set(actions))),
        resource_type=rtype,
        client_id=client,
    )


def with_axis(f: AccessFilter, patient_hash: str = "", sub: str = "") -> AccessFilter:
    return replace(f, patient_hash=patient_hash, sub=sub)


def filter_key(kind: str, f: AccessFilter) -> str:
    """What a paging cursor is bound to: the endpoint and every filter of the query."""
    digest = hashlib.sha256(orjson.dumps(asdict(f), option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{kind}:{digest[:32]}"


def multi_params(items: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Query items as name → every value, in order."""
    params: dict[str, list[str]] = {}
    for name, value in items:
        params.setdefault(name, []).append(value)
    return params
