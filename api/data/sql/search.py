"""SQL for policy-aware search (pure): the access reach and hidden labels live in the query.
Written in the SQL that SQLite and PostgreSQL both read (`?` placeholders; text compared in
byte order: the PostgreSQL schema declares its text columns COLLATE "C").

Index rows carry the owner patient and the labels of their resource, so a search with
criteria finds its matches in the search index alone (index-only scans), and one statement
counts them and picks the page's ids before any resource body is read (one round trip on a
networked store). Ordering is by id: stable for offset paging.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.data.query import SortKey
from api.security.access import PatientReach, Reach


@dataclass(frozen=True, slots=True)
class IndexCondition:
    """A compiled criterion: a condition on the search-index rows of `param`, which `sql`
    refers to as `i.`."""

    param: str
    sql: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Sql:
    text: str
    args: tuple[Any, ...]


# The patients of a practitioner's care teams, as SQL both read; PostgreSQL's adapter writes
# it as `= ANY(ARRAY(...))`, which it plans without weighing semi-join strategies.
CARE_TEAM_PATIENTS = "SELECT patient_id FROM care_team_members WHERE practitioner = ?"
IN_CARE_TEAM = f"IN ({CARE_TEAM_PATIENTS})"


def reach_sql(reach: PatientReach | None, alias: str) -> Sql:
    """Rows within the reach. A resource that belongs to nobody (patient_id '') is within a
    reach of every patient only: a compartment type's resource without a patient is for
    system scopes (fail closed); other types always plan the reach of every patient."""
    col = f"{alias}.patient_id"
    if reach is None or reach.kind is Reach.ALL:
        return Sql("1 = 1", ())
    if reach.kind is Reach.ONE:
        return Sql(f"({col} = ? AND {col} <> '')", (reach.patient,))
    if reach.kind is Reach.CARE_TEAM:
        return Sql(f"{col} {IN_CARE_TEAM}", (reach.practitioner,))
    return Sql("0 = 1", ())


def label_sql(hidden_labels: frozenset[str], alias: str, as_array: bool = False) -> Sql:
    """No hidden label among the row's labels ('|A|B|'). `as_array`: PostgreSQL's form, one
    array parameter (planning a condition per label cost a search about 0.3 ms there)."""
    if not hidden_labels:
        return Sql("1 = 1", ())
    col = f"{alias}.labels"
    if as_array:
        codes = sorted(hidden_labels)
        return Sql(f"({col} = '' OR NOT (string_to_array({col}, '|') && ?::text[]))", (codes,))
    checks = " AND ".join(f"replace({col}, ?, '') = {col}" for _ in hidden_labels)  # absent
    return Sql(f"({col} = '' OR ({checks}))", tuple(f"|{c}|" for c in sorted(hidden_labels)))


Alternatives = Sequence[Sequence[IndexCondition]]  # OR of ANDs (granular scope constraints)


def constraint_sql(resource_type: str, alternatives: Alternatives, id_column: str) -> Sql:
    """`id_column` satisfies one of the alternatives (each a conjunction of criteria).
    An alternative without criteria (it could not be parsed) matches nothing."""
    if not alternatives:
        return Sql("1 = 1", ())
    ors: list[str] = []
    args: list[Any] = []
    for alternative in alternatives:
        if not alternative:
            ors.append("0 = 1")
            continue
        ands = []
        for criterion in alternative:
            ands.append(
                f"{id_column} IN (SELECT i.id FROM search_index i WHERE i.type = ? "
                f"AND i.param = ? AND ({criterion.sql}))"
            )
            args.extend((resource_type, criterion.param, *criterion.args))
        ors.append("(" + " AND ".join(ands) + ")")
    return Sql("(" + " OR ".join(ors) + ")", tuple(args))


def _matching_index_rows(
    resource_type: str,
    criteria: Sequence[IndexCondition],
    reach: PatientReach | None,
    alternatives: Alternatives = (),
) -> Sql:
    """WHERE clause over index rows `i` of the first criterion, the others as semi-joins."""
    first, rest = criteria[0], criteria[1:]
    parts = ["i.type = ?", "i.param = ?", f"({first.sql})"]
    args: list[Any] = [resource_type, first.param, *first.args]
    for other in rest:
        parts.append(
            "i.id IN (SELECT i.id FROM search_index i WHERE i.type = ? AND i.param = ? "
            f"AND ({other.sql}))"
        )
        args.extend((resource_type, other.param, *other.args))
    reach_part = reach_sql(reach, "i")
    constrained = constraint_sql(resource_type, alternatives, "i.id")
    parts.extend((reach_part.text, constrained.text))
    args.extend((*reach_part.args, *constrained.args))
    return Sql(" AND ".join(parts), tuple(args))


def matches_sql(
    resource_type: str,
    criteria: Sequence[IndexCondition],
    reach: PatientReach | None,
    hidden_labels: frozenset[str],
    alternatives: Alternatives = (),
    labels_as_array: bool = False,
) -> Sql:
    """SELECT (id, visible) of each match within reach and constraints, once; `visible` is 1
    when the labels hide nothing. Index rows carry their resource's owner and labels, and
    a deleted resource has none, so with criteria the search index alone answers."""
    if criteria:
        where = _matching_index_rows(resource_type, criteria, reach, alternatives)
        labels = label_sql(hidden_labels, "i", labels_as_array)
        text = (
            f"SELECT DISTINCT i.id, CASE WHEN {labels.text} THEN 1 ELSE 0 END AS visible "
            f"FROM search_index i WHERE {where.text}"
        )
        return Sql(text, (*labels.args, *where.args))
    reach_part = reach_sql(reach, "r")
    labels = label_sql(hidden_labels, "r", labels_as_array)
    constrained = constraint_sql(resource_type, alternatives, "r.id")
    text = (
        f"SELECT r.id, CASE WHEN {labels.text} THEN 1 ELSE 0 END AS visible FROM resources r "
        f"WHERE r.type = ? AND r.deleted = 0 AND {reach_part.text} AND {constrained.text}"
    )
    return Sql(text, (*labels.args, resource_type, *reach_part.args, *constrained.args))


def count_query(
    resource_type: str,
    criteria: Sequence[IndexCondition],
    reach: PatientReach | None,
    hidden_labels: frozenset[str],
    alternatives: Alternatives = (),
) -> Sql:
    """SELECT (matches within reach and constraints, of which visible through the labels)."""
    matches = matches_sql(resource_type, criteria, reach, hidden_labels, alternatives)
    text = f"SELECT count(*), coalesce(sum(m.visible), 0) FROM ({matches.text}) m"
    return Sql(text, matches.args)


def matching_count_query(resource_type: str, criteria: Sequence[IndexCondition]) -> Sql:
    """SELECT (every match, policy ignored)."""
    matches = matches_sql(resource_type, criteria, None, frozenset())
    return Sql(f"SELECT count(*) FROM ({matches.text}) a", matches.args)


def counted_page_query(
    resource_type: str,
    criteria: Sequence[IndexCondition],
    reach: PatientReach,
    hidden_labels: frozenset[str],
    limit: int,
    offset: int,
    alternatives: Alternatives = (),
    sort: Sequence[SortKey] = (),
    matching: Sql | None = None,
) -> Sql:
    """The page and the counts in one statement: the matches are found once (ids and
    labels only), the page picked from them, and only its resources read. Each row is
    (type, id, version_id, patient_id, labels, body, in reach, visible, matching or NULL);
    no row when the page is empty (count_query then answers). The counts are materialised:
    a planner inlining them beside the page's join would count once per row. Written for
    PostgreSQL (its label test takes an array)."""
    matches = matches_sql(
        resource_type, criteria, reach, hidden_labels, alternatives, labels_as_array=True
    )
    order, order_args = order_by(sort)
    if sort:  # sort keys read the resources (last_updated, their index rows)
        page = (
            "SELECT r.id FROM m JOIN resources r ON r.type = ? AND r.id = m.id "
            f"WHERE m.visible = 1 ORDER BY {order} LIMIT ? OFFSET ?"
        )
        page_args: tuple[Any, ...] = (resource_type, *order_args, limit, offset)
    else:
        page = "SELECT m.id FROM m WHERE m.visible = 1 ORDER BY m.id LIMIT ? OFFSET ?"
        page_args = (limit, offset)
    counted = f"({matching.text})" if matching else "NULL"
    text = (
        f"WITH m AS ({matches.text}), p AS ({page}), "
        "c AS MATERIALIZED (SELECT count(*) AS in_reach, coalesce(sum(visible), 0) AS visible "
        "FROM m) "
        "SELECT r.type, r.id, r.version_id, r.patient_id, r.labels, r.body, c.in_reach, "
        f"c.visible, {counted} FROM p JOIN resources r ON r.type = ? AND r.id = p.id "
        f"CROSS JOIN c ORDER BY {order}"
    )
    counted_args = matching.args if matching else ()
    args = (*matches.args, *page_args, *counted_args, resource_type, *order_args)
    return Sql(text, args)


def page_query(
    resource_type: str,
    criteria: Sequence[IndexCondition],
    reach: PatientReach,
    hidden_labels: frozenset[str],
    limit: int,
    offset: int,
    alternatives: Alternatives = (),
    sort: Sequence[SortKey] = (),
    after_id: str | None = None,
) -> Sql:
    """The resources themselves filtered and ordered (a scan's batches); `after_id`: only
    resources whose id sorts after it (keyset paging in id order)."""
    columns = "r.type, r.id, r.version_id, r.patient_id, r.labels, r.body"
    reach_part, labels = reach_sql(reach, "r"), label_sql(hidden_labels, "r")
    constrained = constraint_sql(resource_type, alternatives, "r.id")
    parts = ["r.type = ?", "r.deleted = 0", reach_part.text, labels.text, constrained.text]
    args: list[Any] = [resource_type, *reach_part.args, *labels.args, *constrained.args]
    if after_id is not None:
        parts.append("r.id > ?")
        args.append(after_id)
    if criteria:
        where = _matching_index_rows(resource_type, criteria, reach)
        parts.append(f"r.id IN (SELECT i.id FROM search_index i WHERE {where.text})")
        args.extend(where.args)
    order, order_args = order_by(sort)
    text = f"SELECT {columns} FROM resources r WHERE {' AND '.join(parts)} ORDER BY {order} "
    return Sql(text + "LIMIT ? OFFSET ?", (*args, *order_args, limit, offset))


def order_by(sort: Sequence[SortKey]) -> tuple[str, tuple[Any, ...]]:
    """Sort keys from the search index (a resource's smallest value; none sorts first
    ascending, last descending, said outright since the dialects differ), then the id."""
    terms: list[str] = []
    args: list[Any] = []
    for key in sort:
        direction = "DESC" if key.descending else "ASC"
        nulls = "NULLS LAST" if key.descending else "NULLS FIRST"
        if key.param == "_id":
            terms.append(f"r.id {direction}")
            continue
        if key.param == "_lastUpdated":
            terms.append(f"r.last_updated {direction}")
            continue
        column = "i.lo" if key.kind == "date" else "i.value"
        terms.append(
            f"(SELECT min({column}) FROM search_index i WHERE i.type = r.type AND i.id = r.id "
            f"AND i.param = ?) {direction} {nulls}"
        )
        args.append(key.param)
    terms.append("r.id ASC")
    return ", ".join(terms), tuple(args)
