"""How many API processes `serve` runs (api.boot.processes): the number asked for
(`--workers`, else FHIR_EVIDENCE_WORKERS) or, when nothing is asked, one per core this
process may run on, within the settings' bounds. A mode that runs one process only makes
the default one (saying why) and refuses a number asked for above one.

`worker_choice` is pure (cores and the mode passed in); `available_cores` reads the machine.
"""

import os
from dataclasses import dataclass

from api.settings import WORKERS_MAX, WORKERS_MIN


@dataclass(frozen=True, slots=True)
class WorkerChoice:
    count: int
    refusal: str | None = None  # set: a count asked for above one cannot run in this mode
    note: str | None = None  # set: why the default is not one process per core


def single_process_reason(kafka: bool, role: str) -> str | None:
    """Why this mode runs one API process only, or None when N processes can run."""
    if kafka and role == "all":
        return ("--workers above 1 with Kafka needs --role api (run `fhir-evidence worker` "
                "beside it)")  # fmt: skip
    return None


def default_workers(cores: int | None) -> int:
    """One API process per core, within the bounds (no count known: one)."""
    return max(WORKERS_MIN, min(WORKERS_MAX, cores or 1))


def worker_choice(asked: int | None, cores: int | None, single_reason: str | None) -> WorkerChoice:
    """What `serve` runs: a count asked for wins (refused above one where one process only
    can run); else one per core, or one where the mode allows no more, saying why."""
    if asked is not None:
        refused = single_reason if asked > 1 else None
        return WorkerChoice(asked, refusal=refused)
    count = default_workers(cores)
    if count > 1 and single_reason is not None:
        return WorkerChoice(1, note=f"one API process instead of {count} (one per core): "
                                    f"{single_reason}")  # fmt: skip
    return WorkerChoice(count)


def available_cores() -> int | None:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return len(affinity(0))
        except OSError:
            pass
    return os.cpu_count()
