"""The store-scale benchmark still runs end to end (tiny sizes: seconds, not the 30 minutes
of a 10M run); its numbers are not judged here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_store_benchmark_runs_every_step(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.evidence_scale", "--rows", "3000", "--sample", "1000",
         "--queries", "3", "--scans", "1", "--dir", str(tmp_path / "store")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for step in ("insert_rows (1,000 rows", "fill 2,000 rows", "p99 (store method, index)",
                 "verify_store, all time (3,000 events"):  # fmt: skip
        assert step in done.stdout
