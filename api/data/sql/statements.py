"""The statements of a policy-aware search, a granular-scope check and a scan, from neutral
criteria, and how their rows make the answer (pure: each relational adapter hands in a
function that runs one statement on its own connection)."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from api.data.port import StoredResource
from api.data.query import Alternatives, Criterion, SortKey
from api.data.sql.compile import compile_alternatives, compile_criteria
from api.data.sql.rows import labels_of
from api.data.sql.search import (
    Sql,
    constraint_sql,
    count_query,
    counted_page_query,
    matching_count_query,
    page_query,
)
from api.security.access import PatientReach, Reach

__all__ = [
    "Run",
    "SearchStatements",
    "answer",
    "satisfies_sql",
    "scan_rows",
    "search_statements",
    "stored_row",
]

Row = Sequence[Any]
Run = Callable[[Sql], Sequence[Row]]  # runs one statement, returns its rows


@dataclass(frozen=True, slots=True)
class SearchStatements:
    page: Sql | None  # None: the counts alone were asked (limit 0)
    counts: Sql  # one row: (within reach and constraints, of which visible through labels)
    matching: Sql | None  # one row: every match, policy ignored (only when asked)
    counted: bool = False  # the page's rows carry the counts (counted_page_query)


def search_statements(
    resource_type: str,
    criteria: Sequence[Criterion],
    reach: PatientReach,
    hidden_labels: frozenset[str],
    limit: int,
    offset: int,
    count_outside_reach: bool = False,
    alternatives: Alternatives = (),
    sort: Sequence[SortKey] = (),
    *,
    one_statement: bool = False,
) -> SearchStatements:
    """Counting matches outside the caller's reach reads everything the query matches, so
    it is done only on request (when the query names patients, where it is cheap).

    `one_statement`: PostgreSQL's form, the page carrying the counts (with rows, one round
    trip answers). Embedded SQLite answers faster from two: its page query walks the
    matching ids in order and stops at the page's end."""
    conditions, constraints = compile_criteria(criteria), compile_alternatives(alternatives)
    matching = None
    if count_outside_reach and reach.kind is not Reach.ALL:
        matching = matching_count_query(resource_type, conditions)
    page = None
    if limit > 0 and one_statement:
        page = counted_page_query(
            resource_type, conditions, reach, hidden_labels, limit, offset, constraints, sort,
            matching,
        )  # fmt: skip
    elif limit > 0:
        page = page_query(
            resource_type, conditions, reach, hidden_labels, limit, offset, constraints, sort
        )
    counts = count_query(resource_type, conditions, reach, hidden_labels, constraints)
    return SearchStatements(page, counts, matching, one_statement)


def answer(run: Run, statements: SearchStatements) -> tuple[list[StoredResource], int, int, int]:
    """(page, total, in_reach, matching) as the port's SearchPage holds them."""
    rows = run(statements.page) if statements.page else []
    if rows and statements.counted:
        in_reach, total, matching = rows[0][6:9]
    else:
        in_reach, total = run(statements.counts)[0]
        matching = run(statements.matching)[0][0] if statements.matching else None
    if matching is None:
        matching = in_reach
    return [stored_row(row[:6]) for row in rows], int(total), int(in_reach), int(matching)


def satisfies_sql(resource_type: str, resource_id: str, alternatives: Alternatives) -> Sql:
    """Selects a row when the stored resource meets one of the alternatives."""
    constrained = constraint_sql(resource_type, compile_alternatives(alternatives), "r.id")
    return Sql(
        f"SELECT 1 FROM resources r WHERE r.type = ? AND r.id = ? AND {constrained.text}",
        (resource_type, resource_id, *constrained.args),
    )


def scan_rows(
    run: Run,
    resource_type: str,
    criteria: Sequence[Criterion],
    reach: PatientReach,
    hidden_labels: frozenset[str],
    alternatives: Alternatives = (),
    batch_size: int = 500,
) -> Iterator[list[StoredResource]]:
    """Keyset paging by id: one statement per batch, run as the previous batch is consumed."""
    conditions, constraints = compile_criteria(criteria), compile_alternatives(alternatives)
    after = ""
    while True:
        batch = page_query(
            resource_type,
            conditions,
            reach,
            hidden_labels,
            batch_size,
            0,
            constraints,
            after_id=after,
        )
        rows = run(batch)
        if rows:
            yield [stored_row(row) for row in rows]
        if len(rows) < batch_size:
            return
        after = rows[-1][1]


def stored_row(row: Row) -> StoredResource:
    """A row of (type, id, version_id, patient_id, labels, body)."""
    rtype, rid, version, patient, labels, body = row
    return StoredResource(rtype, rid, version, patient, labels_of(labels), bytes(body))
