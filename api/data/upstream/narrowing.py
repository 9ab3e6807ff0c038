"""A guarded search as the upstream FHIR server's own query (pure).

The narrowing is only ever a superset of what the caller may see, never the decision: every
resource the upstream returns is checked again (api.data.upstream.recheck). So whatever
cannot be said exactly in a FHIR query is left out of it rather than guessed at: a value
holding one of FHIR's escape characters, several date ranges, quantities, granular-scope
alternatives that are not one OR list. What the narrowing does say is what keeps the pages
small: the patients within reach, the hidden labels (`_security:not`), the criteria, the
granular scope, the order.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from api.data.query import (
    Alternatives,
    Criterion,
    DateIn,
    DateRange,
    IdIn,
    OwnerIn,
    Prefix,
    ReferenceIn,
    SortKey,
    StringStartsWith,
    TokenIn,
)
from api.security.access import PatientReach, Reach

__all__ = ["UpstreamParams", "labelled_query", "narrowed_query", "owner_param", "paged"]

UpstreamParams = tuple[tuple[str, str], ...]
_SPECIAL = frozenset("\\,$|")  # FHIR's search escapes: such a value is left to the re-check
_DATE_MARGIN = timedelta(days=1)  # widened: time zones and precision never lose a match


def owner_param(resource_type: str) -> tuple[str, str]:
    """The search parameter naming a resource's patient, and the prefix of its values."""
    if resource_type == "Patient":
        return "_id", ""
    if resource_type == "Group":
        return "member", "Patient/"
    return "subject", "Patient/"


def narrowed_query(
    resource_type: str,
    criteria: Sequence[Criterion],
    reach: PatientReach,
    care_team_patients: frozenset[str],
    hidden_labels: frozenset[str],
    alternatives: Alternatives = (),
    sort: Sequence[SortKey] = (),
) -> UpstreamParams | None:
    """The upstream query, or None when nothing can be visible (no patient within reach,
    only granular alternatives that match nothing): then the upstream is not asked."""
    patients = _reach_patients(reach, care_team_patients)
    usable = [alternative for alternative in alternatives if alternative]
    if (patients is not None and not patients) or (alternatives and not usable):
        return None
    params: list[tuple[str, str]] = []
    if patients is not None:
        params.extend(_owner_values(resource_type, patients))
    for criterion in (*criteria, *_alternatives_narrowing(usable)):
        params.extend(criterion_params(resource_type, criterion))
    params.extend(("_security:not", code) for code in sorted(hidden_labels) if _plain(code))
    params.append(("_sort", ",".join([*(_sort_term(key) for key in sort), "_id"])))
    return tuple(params)


def labelled_query(params: UpstreamParams) -> UpstreamParams | None:
    """What a narrowed query kept upstream for its labels: the same query asking instead
    for the resources carrying one of the hidden labels it excluded (`_security:not`), so
    that a count can say how many labels withheld; None when it excluded none."""
    excluded = [value for name, value in params if name == "_security:not"]
    if not excluded:
        return None
    kept = tuple((name, value) for name, value in params if name != "_security:not")
    return (*kept, ("_security", ",".join(excluded)))


def paged(params: UpstreamParams, count: int, offset: int) -> UpstreamParams:
    return (*params, ("_count", str(count)), ("_offset", str(offset)))


def _reach_patients(reach: PatientReach, care_team: frozenset[str]) -> frozenset[str] | None:
    """The patients a reach is confined to; None for every patient."""
    if reach.kind is Reach.ALL:
        return None
    if reach.kind is Reach.ONE:
        return frozenset({reach.patient}) if reach.patient else frozenset()
    if reach.kind is Reach.CARE_TEAM:
        return care_team
    return frozenset()


def _owner_values(resource_type: str, patients: frozenset[str]) -> UpstreamParams:
    name, prefix = owner_param(resource_type)
    values = [f"{prefix}{patient}" for patient in sorted(patients) if _plain(patient)]
    if not values or len(values) < len(patients):  # left to the re-check
        return ()
    return ((name, ",".join(values)),)


def _alternatives_narrowing(alternatives: Sequence[Sequence[Criterion]]) -> list[Criterion]:
    """One alternative narrows by all its criteria; several narrow only when they are one
    token parameter each, the same one (an OR list); otherwise not at all."""
    if len(alternatives) == 1:
        return list(alternatives[0])
    singles = [alt[0] for alt in alternatives if len(alt) == 1 and isinstance(alt[0], TokenIn)]
    if len(singles) == len(alternatives) and len({c.param for c in singles}) == 1:
        tokens = tuple(token for single in singles for token in single.tokens)
        return [TokenIn(singles[0].param, tokens)]
    return []


def criterion_params(resource_type: str, criterion: Criterion) -> UpstreamParams:
    """One criterion as upstream parameters, or none when it cannot be said exactly."""
    if isinstance(criterion, StringStartsWith):
        return _listed(criterion.param, criterion.prefixes)
    if isinstance(criterion, TokenIn):
        return _listed(criterion.param, criterion.tokens, token=True)
    if isinstance(criterion, ReferenceIn):
        return _listed(criterion.param, criterion.references)
    if isinstance(criterion, IdIn):
        return _listed("_id", criterion.ids)
    if isinstance(criterion, OwnerIn):
        return _owner_values(resource_type, frozenset(criterion.patient_ids))
    if isinstance(criterion, DateIn) and len(criterion.ranges) == 1:
        return _date_bounds(criterion.param, criterion.ranges[0])
    return ()


def _listed(param: str, values: Sequence[str], token: bool = False) -> UpstreamParams:
    if not values or not all(_sayable(value, token) for value in values):
        return ()
    return ((param, ",".join(values)),)


def _sayable(value: str, token: bool) -> bool:
    """Plain text; a token may be "system|code", its one separator between plain parts."""
    if token and value.count("|") == 1:
        return all(_plain(part) for part in value.split("|"))
    return _plain(value)


def _plain(value: str) -> bool:
    return bool(value) and not (_SPECIAL & set(value))


def _date_bounds(param: str, searched: DateRange) -> UpstreamParams:
    """A superset of the resources whose range [lo, hi] relates to the searched one as its
    prefix says, each bound moved a day outwards (time zones and precision never lose a
    match; the re-check applies the prefix exactly). FHIR's `ge X` keeps hi >= X and `le X`
    keeps lo <= X. A bound at the calendar's edge is left open."""
    start, end = searched.start, searched.end
    bounds = {
        Prefix.EQ: (("ge", start), ("le", end)),
        Prefix.GT: (("ge", end),),
        Prefix.GE: (("ge", start),),
        Prefix.LT: (("le", start),),
        Prefix.LE: (("le", end),),
    }[searched.prefix]
    params = []
    for comparator, text in bounds:
        moment = _moment(text, -_DATE_MARGIN if comparator == "ge" else _DATE_MARGIN)
        if moment is not None:
            params.append((param, f"{comparator}{moment}"))
    return tuple(params)


def _moment(text: str, shift: timedelta) -> str | None:
    try:
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC) + shift
    except (ValueError, OverflowError):
        return None
    if not 1 < moment.year < 9999:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sort_term(key: SortKey) -> str:
    return f"-{key.param}" if key.descending else key.param
