"""The HL7 FHIR validator for tests: HAPI FHIR's instance validator (R4, the base profiles,
offline terminology) in one long-lived JVM started by scripts/hl7-validator.sh, asked over
loopback HTTP. `issues_from_outcome` (pure) turns its OperationOutcome into ValidatorIssues."""

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.server_scripts import ServerScriptError, run_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "hl7-validator.sh"
SEVERITIES = ("fatal", "error", "warning", "information")
FAILING = frozenset({"fatal", "error"})
MESSAGE_ID_EXTENSION = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"


class HL7ValidatorError(ServerScriptError):
    """scripts/hl7-validator.sh could not fetch, start or stop the validator, or it answered
    something other than an OperationOutcome."""


@dataclass(frozen=True)
class ValidatorIssue:
    """One issue the validator raised: `expression` is the FHIRPath of the element
    (`Patient.gender`, `Bundle.entry[0].fullUrl`), or its location when it gave no
    expression, or "" for the whole input; `message_id` is the validator's own message key
    (`Type_Specific_Checks_DT_Boolean_Value`, `...Observation#obs-6`), "" when it has none."""

    severity: str
    expression: str
    message: str
    message_id: str = ""

    @property
    def failing(self) -> bool:
        return self.severity in FAILING

    def __str__(self) -> str:
        return f"{self.severity} {self.expression or '(resource)'}: {self.message}"


def _first_string(values: Any) -> str:
    if isinstance(values, Sequence) and not isinstance(values, str):
        for value in values:
            if isinstance(value, str) and value:
                return value
    return ""


def _message_id(issue: Mapping[str, Any]) -> str:
    for extension in issue.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == MESSAGE_ID_EXTENSION:
            value = extension.get("valueString")
            return value if isinstance(value, str) else ""
    return ""


def issues_from_outcome(outcome: Mapping[str, Any]) -> list[ValidatorIssue]:
    """The issues of an OperationOutcome the validator answered. The validator reports a
    valid input as one `information` issue ("All OK"): that is kept, it is not failing."""
    if outcome.get("resourceType") != "OperationOutcome":
        raise HL7ValidatorError(f"the validator answered a {outcome.get('resourceType')!r}")
    issues = []
    for issue in outcome.get("issue") or ():
        if not isinstance(issue, Mapping):
            raise HL7ValidatorError("the validator answered an issue that is not an object")
        severity = issue.get("severity")
        if severity not in SEVERITIES:
            raise HL7ValidatorError(f"the validator answered an issue of severity {severity!r}")
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        issues.append(
            ValidatorIssue(
                severity=severity,
                expression=_first_string(issue.get("expression"))
                or _first_string(issue.get("location")),
                message=str(text),
                message_id=_message_id(issue),
            )
        )
    return issues


def failing(issues: Sequence[ValidatorIssue]) -> list[ValidatorIssue]:
    """The errors and fatal issues: what makes a resource invalid."""
    return [issue for issue in issues if issue.failing]


class HL7Validator:
    """One validator JVM with its state (pid, port, url, validator.log) in `state_dir`."""

    def __init__(self, state_dir: Path, start_timeout: float = 240.0) -> None:
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.started_in: float | None = None  # seconds the last start() took
        self.validations = 0
        self.validating_seconds = 0.0  # spent in validate(), HTTP round trip included
        self._http: httpx.Client | None = None
        self._starting: threading.Thread | None = None
        self._start_error: HL7ValidatorError | None = None

    def _run(self, command: str, timeout: float) -> str:
        return run_script(
            SCRIPT, command, self.state_dir, timeout, "HL7_VALIDATOR_WATCH_PID", HL7ValidatorError
        )

    def start(self) -> str:
        """Start (fetching first if needed) and return the base URL once it is warm."""
        began = time.monotonic()
        url = self._run("start", self.start_timeout + 120)
        self.started_in = time.monotonic() - began
        self._http = httpx.Client(base_url=url, timeout=120)
        return url

    def begin(self) -> None:
        """start() in a thread, so the JVM warms up while the caller starts other things;
        wait_started() then joins it (and raises what start() raised)."""

        def run() -> None:
            try:
                self.start()
            except HL7ValidatorError as exc:
                self._start_error = exc

        self._starting = threading.Thread(target=run, name="hl7-validator-start", daemon=True)
        self._starting.start()

    def wait_started(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._start_error is not None:
            raise self._start_error

    def stop(self) -> None:
        if self._starting is not None:
            self._starting.join()
        if self._http is not None:
            self._http.close()
            self._http = None
        self._run("stop", 30)

    def validate(
        self, resource: Mapping[str, Any] | str | bytes, profile: str | None = None
    ) -> list[ValidatorIssue]:
        """Every issue the validator raises on `resource` (a JSON object, or JSON text as
        sent on the wire), against its base R4 profile, or `profile` (a canonical URL the
        validator must know: an unknown one is a fatal issue)."""
        if self._http is None:
            raise HL7ValidatorError("the validator has not been started")
        body = resource if isinstance(resource, str | bytes) else json.dumps(resource)
        params = {"profile": profile} if profile else {}
        began = time.monotonic()
        answer = self._http.post(
            "/validate",
            content=body,
            params=params,
            headers={"Content-Type": "application/fhir+json"},
        )
        self.validating_seconds += time.monotonic() - began
        self.validations += 1
        if answer.status_code != 200:
            raise HL7ValidatorError(f"the validator answered {answer.status_code}", answer.text)
        return issues_from_outcome(answer.json())

    def errors(
        self, resource: Mapping[str, Any] | str | bytes, profile: str | None = None
    ) -> list[ValidatorIssue]:
        """The error and fatal issues only: an empty list means the resource is valid."""
        return failing(self.validate(resource, profile))

    def log_text(self) -> str:
        path = self.state_dir / "validator.log"
        return path.read_text(errors="replace") if path.exists() else ""
