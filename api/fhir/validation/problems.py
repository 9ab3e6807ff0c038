"""A problem found in a resource: the element it concerns (a FHIRPath expression), the
OperationOutcome issue code it answers with, and a human message that names no internals."""

from dataclasses import dataclass

__all__ = ["BINDING", "INVARIANT", "REQUIRED", "STRUCTURE", "VALUE", "Problem"]

STRUCTURE = "structure"  # an element FHIR does not define, or a list where one value goes
REQUIRED = "required"  # a mandatory element is missing, or too few values
VALUE = "value"  # a primitive of the wrong JSON type or format
BINDING = "code-invalid"  # a code outside a required binding's value set
INVARIANT = "invariant"  # a constraint (dom-3, obs-6, ...) does not hold


@dataclass(frozen=True, order=True)
class Problem:
    expression: str
    code: str
    message: str
