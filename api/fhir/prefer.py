"""`Prefer: return=` of FHIR writes (pure): what the body of a create or update holds."""

REPRESENTATION, MINIMAL, OUTCOME = "representation", "minimal", "OperationOutcome"


def return_preference(prefer: str) -> str:
    """The `return=` preference among the header's comma-separated preferences (the first
    one named wins; an unknown or absent one means the resource, as without the header)."""
    for item in prefer.split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == "return":
            chosen = value.strip().strip('"')
            return chosen if chosen in (MINIMAL, OUTCOME) else REPRESENTATION
    return REPRESENTATION
