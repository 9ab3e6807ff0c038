"""How many API processes `serve` runs (api.boot.workers): a count asked for wins, else one
per core within the settings' bounds, one where the mode runs one process only (saying why);
and `serve` refusing a count above one there (exit 2, before anything is opened)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.boot.workers import (
    WorkerChoice,
    available_cores,
    default_workers,
    single_process_reason,
    worker_choice,
)
from api.settings import WORKERS_MAX, WORKERS_MIN, Settings

REASON = "one process only here"


@pytest.mark.parametrize(("cores", "count"), [(None, 1), (0, 1), (1, 1), (2, 2), (16, 16),
                                              (64, 64), (65, 64), (512, 64)])  # fmt: skip
def test_the_default_is_one_per_core_within_the_bounds(cores: int | None, count: int) -> None:
    assert default_workers(cores) == count
    assert worker_choice(None, cores, None) == WorkerChoice(count)


@given(st.integers(WORKERS_MIN, WORKERS_MAX), st.one_of(st.none(), st.integers(0, 1024)))
def test_a_count_asked_for_wins_over_the_cores(asked: int, cores: int | None) -> None:
    assert worker_choice(asked, cores, None) == WorkerChoice(asked)


def test_where_one_process_only_runs_the_default_is_one_saying_why() -> None:
    choice = worker_choice(None, 2, REASON)
    assert choice.count == 1 and choice.refusal is None
    assert choice.note is not None and REASON in choice.note and "2" in choice.note
    assert worker_choice(None, 1, REASON) == WorkerChoice(1)  # nothing given up: no note


def test_where_one_process_only_runs_a_count_above_one_asked_for_is_refused() -> None:
    assert worker_choice(2, 2, REASON) == WorkerChoice(2, refusal=REASON)
    assert worker_choice(1, 8, REASON) == WorkerChoice(1)


def test_kafka_runs_several_api_processes_only_with_role_api() -> None:
    assert single_process_reason(kafka=False, role="all") is None
    assert single_process_reason(kafka=True, role="api") is None
    reason = single_process_reason(kafka=True, role="all")
    assert reason is not None and "--role api" in reason


def test_the_cores_are_those_this_process_may_run_on() -> None:
    cores = available_cores()
    assert cores is not None and 1 <= cores <= (os.cpu_count() or cores)
    if hasattr(os, "sched_getaffinity"):
        assert cores == len(os.sched_getaffinity(0))


def test_the_setting_is_unset_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FHIR_EVIDENCE_WORKERS", raising=False)
    assert Settings().workers is None
    monkeypatch.setenv("FHIR_EVIDENCE_WORKERS", "3")
    assert Settings().workers == 3
    for bad in ("0", str(WORKERS_MAX + 1)):
        monkeypatch.setenv("FHIR_EVIDENCE_WORKERS", bad)
        with pytest.raises(ValueError, match="workers"):
            Settings()


def _serve(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_EVIDENCE_")}
    clean.update(FHIR_EVIDENCE_DATA_DIR=str(tmp / "data"), **env)
    return subprocess.run([sys.executable, "-m", "api.boot.cli", "serve", "--port", "1", *args],
                          env=clean, capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("asked", [("--workers", "2"), ()])
def test_serve_with_kafka_and_role_all_refuses_two(tmp_path: Path, asked: tuple[str, ...]) -> None:
    workers = {} if asked else {"FHIR_EVIDENCE_WORKERS": "2"}  # the option or the setting
    done = _serve(tmp_path, *asked, FHIR_EVIDENCE_KAFKA_BOOTSTRAP="127.0.0.1:1", **workers)
    assert done.returncode == 2, done.stderr
    assert "--role api" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created
