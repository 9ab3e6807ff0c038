"""The body of a create or update, as received: FHIR JSON (415 otherwise), parseable (400),
not nested too deeply (400), of the path's resource type (400), without control characters
(422), and valid FHIR R4 at the HL7 validator's level (`api.fhir.validation`): otherwise 422
with one OperationOutcome issue per problem, each naming its element."""

from typing import Any

import orjson

from api.errors import InvalidRequest, UnprocessableResource, UnsupportedMediaType
from api.fhir.body_text import has_control_character
from api.fhir.validation import outcome_issues, problems_of

__all__ = ["InvalidResource", "json_depth", "validate_body"]

MAX_JSON_DEPTH = 64
JSON_TYPES = ("application/fhir+json", "application/json")


class InvalidResource(UnprocessableResource):
    """A body that is not valid FHIR R4: its OperationOutcome has one issue per problem."""

    issue_code = "invalid"

    def __init__(self, resource_type: str, issues: list[dict[str, object]]) -> None:
        super().__init__(f"The body is not a valid FHIR R4 {resource_type}.")
        self.issues = issues


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def validate_body(raw: bytes, resource_type: str, content_type: str) -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not valid JSON.") from None
    if json_depth(body) > MAX_JSON_DEPTH:
        raise InvalidRequest("The body is nested too deeply.")
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise InvalidRequest(f"The body must be a {resource_type} resource.")
    if has_control_character(body):
        raise UnprocessableResource("A string of the body holds a control character.")
    problems = problems_of(body)
    if problems:
        raise InvalidResource(resource_type, outcome_issues(problems))
    return dict(body)
