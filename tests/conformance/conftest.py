"""The HL7 validator for the conformance tier: one JVM per test session (fixture
`hl7_validator`), started on first use by scripts/hl7-validator.sh. Without Java or the jars
the tests that use it skip, saying why; under CI=true they fail. And one real server (SQLite,
demo data) for this folder: `conformance_server`, `conformance_client`, `conformance_issuer`."""

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.hl7_validator import HL7Validator, HL7ValidatorError
from tests.kafka_broker import in_ci
from tests.support import ServerProcess, TestIssuer, running_server, unavailable


@pytest.fixture(scope="session")
def _hl7_validator_launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HL7Validator]:
    """The validator JVM, starting in the background (the server starts meanwhile)."""
    validator = HL7Validator(tmp_path_factory.mktemp("hl7-validator"))
    validator.begin()
    yield validator
    if validator.validations:
        mean = validator.validating_seconds / validator.validations * 1000
        print(
            f"\nhl7-validator: {validator.validations} validations, "
            f"{validator.validating_seconds:.1f} s, {mean:.0f} ms each on average"
        )
    with contextlib.suppress(HL7ValidatorError):  # it never started: its tests said why
        validator.stop()


@pytest.fixture(scope="session")
def hl7_validator(_hl7_validator_launched: HL7Validator) -> HL7Validator:
    """The HAPI FHIR validator (R4 base profiles, offline terminology): `validate(resource,
    profile=None)` and `errors(resource)` answer lists of ValidatorIssue."""
    validator = _hl7_validator_launched
    try:
        validator.wait_started()
        error = None
    except HL7ValidatorError as exc:
        error = exc
    if error is not None:  # outside the except: no "during handling" chain in the report
        reason = f"no HL7 validator ({error.summary}); run `bash scripts/hl7-validator.sh fetch`"
        unavailable(f"{reason}\n{error.details}" if in_ci() else reason, "conformance tests")
    print(f"\nhl7-validator: JVM started and warm in {validator.started_in:.1f} s")
    return validator


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # `-m "not hl7validator"` leaves out every test that needs the JVM
        if "hl7_validator" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.hl7validator)


@pytest.fixture(scope="session")
def conformance_issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
def conformance_server(
    tmp_path_factory: pytest.TempPathFactory,
    conformance_issuer: TestIssuer,
    _hl7_validator_launched: HL7Validator,  # the JVM warms up while the server starts
) -> Iterator[ServerProcess]:
    """One real `fhir-evidence serve` (SQLite, the demo data) for this folder's session.
    Unauthenticated callers are throttled at the stock rate, and 127.0.0.1 is a trusted proxy,
    so a test reaches the 429 from an address of its own (X-Forwarded-For: 192.0.2.x, a
    documentation address: only a header, nothing is sent there) without touching the
    bucket of the tests' own address."""
    throttled = {
        "FHIR_EVIDENCE_UNAUTHENTICATED_RATE_LIMIT_PER_S": "5",
        "FHIR_EVIDENCE_UNAUTHENTICATED_RATE_LIMIT_BURST": "50",
        "FHIR_EVIDENCE_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    data = tmp_path_factory.mktemp("conformance") / "data"
    with running_server(data, conformance_issuer, throttled) as proc:
        yield proc


@pytest.fixture(scope="session")
def conformance_client(conformance_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=conformance_server.base_url, timeout=30) as http:
        yield http
