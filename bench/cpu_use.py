"""Where the machine's CPU goes during a load run: CPU time per request of each process of the
server (API processes, the pipeline process, the supervisor) and of the load generator.

On a machine whose cores are all busy, the sum is the limit: `cores / total µs per request`
is the most requests per second this machine can serve, whatever the code does between
them. Read from /proc (Linux): utime + stime of every process in the server's tree, and
the load generator's usage as a reaped child of this process.
"""

import os
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _role(pid: int) -> str:
    """What a server process is, from its command line (`serve-process api|pipeline`)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    if b"serve-process" in argv:
        kind = argv[argv.index(b"serve-process") + 1].decode()
        return "API processes" if kind == "api" else f"{kind} process"
    return "server (one process or supervisor)"


def tree_cpu(root: int) -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds) for `root` and every process below it."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], seconds[int(entry.name)] = found
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return {pid: (_role(pid), seconds[pid]) for pid in tree if pid in seconds}


def _reaped_children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuUse:
    """CPU µs per request, by role; `cores` for the ceiling."""

    per_request_us: Mapping[str, float]
    cores: int

    @property
    def total_us(self) -> float:
        return sum(self.per_request_us.values())

    @property
    def ceiling_per_s(self) -> float:
        return self.cores * 1_000_000 / self.total_us if self.total_us else 0.0

    def report(self) -> str:
        parts = ", ".join(f"{role} {us:.0f}" for role, us in self.per_request_us.items())
        return (f"CPU µs per request: {parts}; total {self.total_us:.0f} -> at most "
                f"{self.ceiling_per_s:,.0f} req/s on {self.cores} cores")  # fmt: skip


def measured(
    server_pid: int, run: Callable[[], T], requests_of: Callable[[T], float]
) -> tuple[T, CpuUse]:
    """Run the load (`run`, which starts and reaps the load generator) and split the CPU time
    it caused by role; `requests_of` tells how many requests the run served."""
    before, generator_before = tree_cpu(server_pid), _reaped_children_s()
    result = run()
    after, generator = tree_cpu(server_pid), _reaped_children_s() - generator_before
    requests = max(requests_of(result), 1.0)
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent = seconds - before.get(pid, (role, 0.0))[1]
        by_role[role] = by_role.get(role, 0.0) + spent
    by_role["load generator (wrk)"] = generator
    per_request = {role: s * 1_000_000 / requests for role, s in by_role.items() if s > 0}
    return result, CpuUse(per_request, len(os.sched_getaffinity(0)))
