"""A real single-node Kafka broker (KRaft) for tests, run from the Maven Central jars by
scripts/kafka.sh. The broker keeps its ports and data across stop/start, so a test can take
it away and bring the same one back."""

import os
import re
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kafka.sh"


class KafkaBrokerError(RuntimeError):
    """scripts/kafka.sh could not fetch, start or stop the broker. `summary` is one line;
    str() adds what the script printed (maven errors, the broker's last log lines)."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(f"{summary}\n{details}" if details else summary)
        self.summary = summary
        self.details = details


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


class KafkaBroker:
    """One broker with its state (config, data, logs, pid) in `state_dir`."""

    def __init__(self, state_dir: Path, start_timeout: float = 180.0) -> None:
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.started_in: float | None = None  # seconds the last start() took

    def _run(self, command: str, timeout: float) -> str:
        env = dict(os.environ, KAFKA_WATCH_PID=str(os.getpid()))
        try:
            done = subprocess.run(
                ["bash", str(SCRIPT), command, str(self.state_dir)],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError(f"kafka.sh {command} timed out after {timeout:.0f}s") from exc
        if done.returncode != 0:
            stderr = re.sub(r"\x1b\[[0-9;]*m", "", done.stderr).strip()
            said = [line for line in stderr.splitlines() if line.startswith("kafka.sh: ")]
            reason = said[-1].removeprefix("kafka.sh: ") if said else f"exit {done.returncode}"
            raise KafkaBrokerError(f"kafka.sh {command}: {reason}", stderr[-4000:])
        return done.stdout.strip()

    def start(self) -> str:
        """Start (or restart, same port and data) and return the bootstrap once it answers."""
        began = time.monotonic()
        # kafka.sh waits KAFKA_START_TIMEOUT (default 120 s); allow for a first fetch too.
        self._run("start", self.start_timeout + 60)
        self.started_in = time.monotonic() - began
        return self.bootstrap

    def stop(self) -> None:
        """SIGTERM (controlled shutdown), SIGKILL if it has not exited within 30 s."""
        self._run("stop", 60)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._run("kill", 30)

    def restart(self, down_for: float = 0.0) -> str:
        self.stop()
        if down_for:
            time.sleep(down_for)
        return self.start()

    @property
    def running(self) -> bool:
        try:
            self._run("status", 30)
        except KafkaBrokerError:
            return False
        return True

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT`; fixed once the broker first started."""
        path = self.state_dir / "bootstrap"
        if not path.exists():
            raise KafkaBrokerError("the broker has not been started yet")
        return path.read_text().strip()

    def log_text(self) -> str:
        path = self.state_dir / "logs" / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""
