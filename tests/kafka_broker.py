"""A real single-node Kafka broker (KRaft) for tests, run from the Maven Central jars by
scripts/kafka.sh. The broker keeps its ports and data across stop/start, so a test can take
it away and bring the same one back."""

import os
import time
from pathlib import Path

from bench.server_scripts import ServerScriptError, run_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kafka.sh"


class KafkaBrokerError(ServerScriptError):
    """scripts/kafka.sh could not fetch, start or stop the broker. `summary` is one line;
    str() adds what the script printed (maven errors, the broker's last log lines)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


class KafkaBroker:
    """One broker with its state (config, data, logs, pid) in `state_dir`."""

    def __init__(self, state_dir: Path, start_timeout: float = 180.0) -> None:
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.started_in: float | None = None  # seconds the last start() took

    def _run(self, command: str, timeout: float) -> str:
        return run_script(
            SCRIPT, command, self.state_dir, timeout, "KAFKA_WATCH_PID", KafkaBrokerError
        )

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
