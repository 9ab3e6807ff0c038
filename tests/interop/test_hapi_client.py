"""HAPI FHIR's generic client (Java, R4, Maven Central jars) drives the server: our scenario
program (scripts/hapi-client/src) runs every step in one JVM and prints one JSON line per
step, checked here step by step. `bash scripts/hapi-client.sh fetch` must have run before."""

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import interop_unavailable
from tests.interop.scenario_steps import run_scenario
from tests.support import ServerProcess, TestIssuer

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hapi-client.sh"

# In the order the program runs them (scripts/hapi-client/src/fhirevidence/interop/).
STEPS = (
    "capabilities",
    "search_paging",
    "read",
    "vread",
    "search_include",
    "search_sort",
    "search_elements",
    "search_summary_count",
    "search_post",
    "format_and_pretty",
    "search_typed_parameters",
    "search_string_and_id",
    "search_revinclude",
    "create",
    "update_if_match",
    "update_stale_version_412",
    "read_if_none_match_304",
    "delete",
    "error_404",
    "error_401",
    "error_403",
    "error_422",
    "export_kickoff",
)


@pytest.fixture(scope="module")
def hapi_steps(request: pytest.FixtureRequest, interop_issuer: TestIssuer) -> dict[str, Any]:
    """Run the scenario once: {step: {"ok", "detail"}}. Whether it can run is known before
    the server starts."""
    check = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        interop_unavailable(f"HAPI FHIR client cannot run: {check.stderr.strip()}")
    server: ServerProcess = request.getfixturevalue("interop_server")
    return run_scenario("hapi-client", ["bash", str(SCRIPT), "run"], server, interop_issuer)


def test_the_scenario_ran_every_step_once(hapi_steps: dict[str, Any]) -> None:
    assert tuple(hapi_steps) == STEPS


@pytest.mark.parametrize("step", STEPS)
def test_hapi_client_step(hapi_steps: dict[str, Any], step: str) -> None:
    assert step in hapi_steps, f"the HAPI scenario printed no {step!r} step"
    assert hapi_steps[step]["ok"], hapi_steps[step]["detail"]
