"""`Prefer: return=` of writes (pure part)."""

import pytest

from api.fhir.prefer import MINIMAL, OUTCOME, REPRESENTATION, return_preference


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("", REPRESENTATION),
        ("return=minimal", MINIMAL),
        ("return=OperationOutcome", OUTCOME),
        ("return=representation", REPRESENTATION),
        ("handling=strict, return=minimal", MINIMAL),
        ('return="minimal"', MINIMAL),
        ("Return = minimal", MINIMAL),
        ("return=everything", REPRESENTATION),
        ("respond-async", REPRESENTATION),
        ("return=minimal, return=OperationOutcome", MINIMAL),
    ],
)
def test_return_preference(header: str, chosen: str) -> None:
    assert return_preference(header) == chosen
