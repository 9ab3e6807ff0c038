"""Runs a client's scenario program once (a JVM, a Node process) against the interop server
and reads its output: one JSON line {step, ok, detail} per step."""

import json
import os
import subprocess
import time
from typing import Any

import pytest

from tests.interop.conftest import narrow_token, system_token
from tests.support import ServerProcess, TestIssuer


def run_scenario(
    label: str, command: list[str], server: ServerProcess, issuer: TestIssuer
) -> dict[str, Any]:
    """{step: {"step", "ok", "detail"}} in the order printed; fails the test when the program
    crashed (an exit status other than 0, all passed, or 1, some failed) or printed no step."""
    env = dict(os.environ)
    env.update(
        FHIR_BASE_URL=f"{server.base_url}/fhir",
        FHIR_TOKEN=system_token(issuer),
        FHIR_NARROW_TOKEN=narrow_token(issuer),
    )
    started = time.monotonic()
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    print(f"\n{label}: scenario ran {time.monotonic() - started:.1f} s")
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode not in (0, 1) or not lines:
        pytest.fail(f"the {label} scenario exited {run.returncode}:\n{run.stderr[-3000:]}")
    steps: dict[str, Any] = {}
    for line in lines:
        step = json.loads(line)
        steps[step["step"]] = step
        print(f"  {'ok  ' if step['ok'] else 'FAIL'} {step['step']}: {step['detail']}")
    return steps
