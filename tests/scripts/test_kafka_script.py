"""scripts/kafka.sh: the cluster ids it formats the broker's storage with."""

import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"


def test_cluster_ids_are_kafka_uuids_that_never_start_with_a_dash() -> None:
    """One in 64 random ids starts with '-', which the storage tool reads as a missing
    argument (a broker that failed to start once in CI)."""
    program = (
        f'source <(sed -n "/^random_cluster_id()/,/^}}/p" "{SCRIPT}"); '
        "for i in $(seq 600); do random_cluster_id; echo; done"
    )
    ids = subprocess.run(
        ["bash", "-c", program], check=True, capture_output=True, text=True
    ).stdout.split()
    assert len(ids) == 600 and len(set(ids)) == 600
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids)
