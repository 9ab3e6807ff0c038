"""The ingestion benchmark still runs end to end (tiny sizes: seconds); its numbers are not
judged here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingestion_benchmark_prints_both_paths_per_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest_rows", "--sizes", "50,200", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for size in ("50", "200"):
        for label in ("whole", "engine"):
            assert any(line.split()[:2] == [size, label] for line in lines), (size, label)
