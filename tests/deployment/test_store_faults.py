"""The evidence store unavailable for 20 s under load. The workers' store is chDB in their
data dir, so it is made unavailable as such a store fails for real: its disk is full. The
store directory is a small tmpfs of its own, filled up with a ballast file for the fault
(inserts fail: no space for a new part) and emptied again after. Needs the right to mount
(root); elsewhere the test is skipped, under CI it fails."""

import contextlib
import errno
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deployment.harness import Deployment
from tests.deployment.scenario import assert_exact, under_fault
from tests.kafka_broker import in_ci

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
DOWN_S = 20.0


@contextlib.contextmanager
def own_disk(path: Path, size: str = "512m") -> Iterator[Path]:
    """`path` on a tmpfs of `size` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs for the store ({done.stderr.strip()})"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a ballast file until the disk has no space left."""
    ballast = disk / "ballast"
    chunk = b"\0" * (1 << 20)
    with ballast.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    with contextlib.suppress(OSError), ballast.open("ab", buffering=0) as out:
        while out.write(b"\0"):  # the last bytes too
            pass
    return ballast


def test_evidence_store_disk_full_for_20_seconds(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(apis=1, workers=1)
    worker = deployment.procs["worker-1"]
    with own_disk(worker.data_dir / "evidence"):
        deployment.start()

        def disk_full(d: Deployment) -> None:
            ballast = fill(worker.data_dir / "evidence")
            try:
                time.sleep(DOWN_S)
            finally:
                ballast.unlink()

        outcome = under_fault(deployment, f"evidence store disk full for {DOWN_S:.0f}s",
                              disk_full)  # fmt: skip
        worker.kill()  # before the disk goes
    assert_exact(outcome)
    assert "evidence store unavailable; the stream waits for it" in worker.log_text()
