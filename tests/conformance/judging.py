"""Collecting the validator's errors over many outputs of the server, to assert 0 of them at
the end with the whole list (resource kind, element, message) in the failure."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.hl7_validator import HL7Validator, ValidatorIssue


@dataclass
class Verdicts:
    """What the validator said of each output, by a label naming the output."""

    validator: HL7Validator
    judged: list[str] = field(default_factory=list)
    errors: list[tuple[str, ValidatorIssue]] = field(default_factory=list)

    def judge(self, label: str, resource: Mapping[str, Any]) -> None:
        self.judged.append(label)
        kind = str(resource.get("resourceType", "?"))
        for issue in self.validator.errors(resource):
            self.errors.append((f"{label} ({kind})", issue))

    def judge_response(self, label: str, response: httpx.Response, status: int) -> None:
        assert response.status_code == status, f"{label}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/fhir+json"), label
        self.judge(label, response.json())

    def report(self) -> str:
        lines = [f"{len(self.errors)} validator errors over {len(self.judged)} outputs:"]
        lines += [f"- {label}: {issue}" for label, issue in self.errors]
        return "\n".join(lines)

    def assert_none(self) -> None:
        assert not self.errors, self.report()
