"""A configuration error found while an API process of `serve --workers N` starts stops the
whole server with 78 and says why, as one process does; it is never restarted for ever."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_issuer_that_cannot_be_discovered_stops_serve_with_78(
    workers: str, tmp_path: Path
) -> None:
    issuer = {"issuer": f"http://127.0.0.1:{free_port()}/realms/missing"}
    env = {**os.environ, "FHIR_EVIDENCE_TRUSTED_ISSUERS": json.dumps([issuer]),
           "FHIR_EVIDENCE_DATA_DIR": str(tmp_path / "data"),
           "FHIR_EVIDENCE_WORKERS": workers}  # fmt: skip
    started = subprocess.run(
        [sys.executable, "-m", "api.boot.cli", "serve", "--port", "0", "--no-demo-data"],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert started.returncode == 78, started.stderr[-2000:]
    assert "discovery of" in started.stderr and "/realms/missing" in started.stderr
    assert "Traceback" not in started.stderr
    assert "restarting" not in started.stderr
