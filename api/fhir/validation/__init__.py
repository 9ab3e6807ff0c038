"""Write validation at the level of the HL7 FHIR validator (base R4 definitions): pure
functions over the JSON body answering a list of problems, each naming its element by a
FHIRPath expression. `problems_of(resource)` judges one resource as a write body;
`outcome_issues(problems)` turns them into OperationOutcome issues."""

from api.fhir.validation.definitions import definitions
from api.fhir.validation.problems import Problem
from api.fhir.validation.structure import walk_resource

__all__ = ["Problem", "outcome_issues", "problems_of", "write_types"]

MAX_PROBLEMS = 50  # an OperationOutcome names at most this many (the first, by position)


def write_types() -> frozenset[str]:
    """The resource types the definitions cover as write bodies."""
    return frozenset(definitions()["provenance"]["writeTypes"])


def problems_of(resource: dict[str, object]) -> list[Problem]:
    """Every problem of `resource` as a write body, once each, in document order."""
    found = walk_resource(resource, write_types())
    return list(dict.fromkeys(found))


def outcome_issues(problems: list[Problem]) -> list[dict[str, object]]:
    """One error issue per problem (at most MAX_PROBLEMS), its element as `expression`."""
    return [
        {"severity": "error", "code": p.code, "diagnostics": p.message,
         "expression": [p.expression]}
        for p in problems[:MAX_PROBLEMS]
    ]  # fmt: skip
