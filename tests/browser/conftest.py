"""Browser tests of the console: the real `fhir-evidence serve` (embedded default, demo data,
development issuer on) with generated traffic, driven by Playwright through Debian's headless
Chromium. Without Chromium or the playwright package the tests are skipped with the reason,
except under CI=true, where they error."""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.browser.traffic import Traffic, generate_traffic
from tests.support import ServerProcess, TestIssuer, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections (updates, sync, field
# trials) are refused by a closed network and slow everything down; QUIC likewise.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_ENV = "BROWSER_SCREENSHOT_DIR"
DEFAULT_SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Environment that would take `serve` off the embedded default or switch the development
# issuer off: never inherited by the server these tests start.
NOT_INHERITED = (
    "FHIR_EVIDENCE_TRUSTED_ISSUERS",
    "FHIR_EVIDENCE_KAFKA_BOOTSTRAP",
    "FHIR_EVIDENCE_CLICKHOUSE_URL",
    "FHIR_EVIDENCE_DETECTION",
)


def browser_unavailable(reason: str) -> NoReturn:
    """Under CI a browser test must run: error it. Elsewhere skip it, saying why."""
    unavailable(reason, "browser tests")


class DemoServer(ServerProcess):
    """`fhir-evidence serve` (as `python -m api.boot.cli serve`) as a user runs it first: embedded
    pipeline and evidence store, demo data loaded into an empty data dir, the development
    issuer on (no trusted issuer)."""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update(FHIR_EVIDENCE_DATA_DIR=str(self.data_dir), FHIR_EVIDENCE_BASE_URL=self.base_url)
        env.update(self.extra_env)
        return env


@pytest.fixture(scope="package")  # stopped once the browser tests are done
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    base: Path = tmp_path_factory.mktemp("browser")
    # The TestIssuer is unused (DemoServer trusts no issuer but the development one). Signed
    # checkpoints every second instead of ten, for the integrity view to list some.
    server = DemoServer(base / "data", TestIssuer(),
                        extra_env={"FHIR_EVIDENCE_CHECKPOINT_INTERVAL_S": "1"})  # fmt: skip
    try:
        server.start(timeout=120)
        failure = ""
    except (RuntimeError, TimeoutError) as exc:
        failure = f"fhir-evidence serve did not start ({exc}):\n{server.log_text()[-3000:]}"
    if failure:
        if server.process is not None and server.process.poll() is None:
            server.kill()
        pytest.fail(failure, pytrace=False)
    yield server
    if server.process is not None and server.process.poll() is None:
        server.terminate()


@pytest.fixture(scope="package")
def traffic(console_server: DemoServer) -> Traffic:
    """FHIR reads by a few principals (allowed, denied, one break-glass), visible to the
    auditor API with the alert they raise before any browser test starts."""
    return generate_traffic(console_server.base_url, console_server.data_dir)


@pytest.fixture(scope="package")  # Playwright's sync API holds an asyncio loop on the main
def browser() -> Iterator["Browser"]:  # thread while it runs: stop it after these tests
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        browser_unavailable('the playwright package is not installed (pip install -e ".[test]")')
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        browser_unavailable(
            f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/test.sh does it)"
        )
    with sync_playwright() as playwright:
        try:  # Playwright gives the browser a fresh profile (user-data-dir) per launch
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            message = str(exc).splitlines()[0]
            launched = None
        if launched is None:
            browser_unavailable(f"Chromium at {CHROMIUM} did not start: {message}")
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    configured = os.environ.get(SCREENSHOT_ENV)
    path = Path(configured) if configured else DEFAULT_SCREENSHOTS
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("FAILED-*.png"):  # from an earlier run
        stale.unlink()
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(
    browser: "Browser",
    console_server: DemoServer,
    screenshot_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator["Page"]:
    """A fresh context (its own sessionStorage: logged out) at the console's base URL.
    Uncaught page errors and Content-Security-Policy violations fail the test; a failed test
    leaves a screenshot behind."""
    context = browser.new_context(
        base_url=console_server.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: "ConsoleMessage") -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(message.text)

    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", on_console)
    yield opened
    if request.node.stash.get(CALL_FAILED, False):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        opened.screenshot(path=screenshot_dir / f"FAILED-{name}.png", full_page=True)
    context.close()
    assert not errors, f"errors in the console's pages: {errors}"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from tests/browser/node_modules (`npm ci --prefix tests/browser`)."""
    path = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
    if not path.is_file():
        if shutil.which("npm") is None:
            browser_unavailable("axe-core is not installed and npm is not on PATH")
        browser_unavailable(f"axe-core is not installed at {path} (npm ci --prefix tests/browser)")
    return path.read_text()
