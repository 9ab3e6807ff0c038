"""Running a server's shell script (scripts/kafka.sh, scripts/postgres.sh, scripts/hapi.sh, ...)
on a state directory, with this process's pid to watch, and its failure as one line plus
details. In bench/ because the benchmarks start servers too (bench.hapi_upstream), and bench
never imports tests."""

import os
import re
import subprocess
from pathlib import Path


class ServerScriptError(RuntimeError):
    """The script failed. `summary` is one line; str() adds what the script printed."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(f"{summary}\n{details}" if details else summary)
        self.summary = summary
        self.details = details


def run_script(
    script: Path,
    command: str,
    state_dir: Path,
    timeout: float,
    watch_variable: str,
    error: type[ServerScriptError] = ServerScriptError,
) -> str:
    """`bash script command state_dir` with `watch_variable` set to this process's pid (the
    script stops its server when this process dies); its stdout, stripped. Raises `error`
    with the script's last `name: reason` line as the summary."""
    env = dict(os.environ, **{watch_variable: str(os.getpid())})
    try:
        done = subprocess.run(
            ["bash", str(script), command, str(state_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{script.name} {command} timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        stderr = re.sub(r"\x1b\[[0-9;]*m", "", done.stderr).strip()
        prefix = f"{script.name}: "
        said = [line for line in stderr.splitlines() if line.startswith(prefix)]
        reason = said[-1].removeprefix(prefix) if said else f"exit {done.returncode}"
        raise error(f"{script.name} {command}: {reason}", stderr[-4000:])
    return done.stdout.strip()
