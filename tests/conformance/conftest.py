"""The HL7 validator for the conformance tier: one JVM per test session (fixture
`hl7_validator`), started on first use by scripts/hl7-validator.sh. Without Java or the jars
the tests that use it skip, saying why; under CI=true they fail."""

from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.hl7_validator import HL7Validator, HL7ValidatorError
from tests.kafka_broker import in_ci


def _validator_unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: conformance tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def hl7_validator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HL7Validator]:
    """The HAPI FHIR validator (R4 base profiles, offline terminology): `validate(resource,
    profile=None)` and `errors(resource)` answer lists of ValidatorIssue."""
    validator = HL7Validator(tmp_path_factory.mktemp("hl7-validator"))
    try:
        validator.start()
        error = None
    except HL7ValidatorError as exc:
        error = exc
    if error is not None:  # outside the except: no "during handling" chain in the report
        reason = f"no HL7 validator ({error.summary}); run `bash scripts/hl7-validator.sh fetch`"
        _validator_unavailable(f"{reason}\n{error.details}" if in_ci() else reason)
    print(f"\nhl7-validator: JVM started and warm in {validator.started_in:.1f} s")
    yield validator
    if validator.validations:
        mean = validator.validating_seconds / validator.validations * 1000
        print(
            f"\nhl7-validator: {validator.validations} validations, "
            f"{validator.validating_seconds:.1f} s, {mean:.0f} ms each on average"
        )
    validator.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # `-m "not hl7validator"` leaves out every test that needs the JVM
        if "hl7_validator" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.hl7validator)
