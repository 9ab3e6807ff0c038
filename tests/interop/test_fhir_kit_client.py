"""fhir-kit-client (Node, pinned in tests/interop/node/package-lock.json, installed by
`npm ci --prefix tests/interop/node`) drives the server: tests/interop/node/scenario.mjs runs
every step in one Node process and prints one JSON line per step, checked here."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import interop_unavailable
from tests.interop.scenario_steps import run_scenario
from tests.support import ServerProcess, TestIssuer

NODE_DIR = Path(__file__).resolve().parent / "node"
SCENARIO = NODE_DIR / "scenario.mjs"

# In the order scenario.mjs runs them.
STEPS = (
    "capabilities",
    "search_paging",
    "read_and_vread",
    "search_include_sort_elements",
    "create_update_if_match",
    "update_stale_version_412",
    "read_if_none_match_304",
    "delete",
    "errors",
    "export_kickoff",
)


@pytest.fixture(scope="module")
def fhir_kit_steps(request: pytest.FixtureRequest, interop_issuer: TestIssuer) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        interop_unavailable("node not found: fhir-kit-client cannot run")
    if not (NODE_DIR / "node_modules" / "fhir-kit-client" / "package.json").exists():
        interop_unavailable("fhir-kit-client not installed: npm ci --prefix tests/interop/node")
    server: ServerProcess = request.getfixturevalue("interop_server")
    return run_scenario("fhir-kit-client", [node, str(SCENARIO)], server, interop_issuer)


def test_the_scenario_ran_every_step_once(fhir_kit_steps: dict[str, Any]) -> None:
    assert tuple(fhir_kit_steps) == STEPS


@pytest.mark.parametrize("step", STEPS)
def test_fhir_kit_client_step(fhir_kit_steps: dict[str, Any], step: str) -> None:
    assert step in fhir_kit_steps, f"the fhir-kit-client scenario printed no {step!r} step"
    assert fhir_kit_steps[step]["ok"], fhir_kit_steps[step]["detail"]
