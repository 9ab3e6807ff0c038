"""Static checks of the console's code (the ES modules in api/console/frontend/src and the
bundle esbuild builds from them): data is never written as HTML, every data request goes to
an existing auditor API route, nothing is loaded from another origin, the npm packages are
pinned, and the built files ship with the package."""

import json
import re
import shutil
import subprocess
import tomllib
import warnings
from importlib import resources
from pathlib import Path

import pytest

from api.console.routes import BUILT
from tests.api.console.conftest import ConsoleApp

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "api" / "console" / "frontend"
SOURCES = sorted((FRONTEND / "src").rglob("*.js"))
CODE = {p.relative_to(FRONTEND / "src").as_posix(): p.read_text(encoding="utf-8") for p in SOURCES}
STATIC = resources.files("api.console").joinpath("static")
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function"
    r"|\.srcdoc\b|createContextualFragment"
)
NETWORK = ("XMLHttpRequest", "EventSource", "sendBeacon", "WebSocket", "importScripts")
DEMO_TOKEN = "/console/demo-token"
NOT_BUILT = "the console is not built: run `bash scripts/build-console.sh` (npm ci, npm run build)"


def _code(js: str) -> str:
    """The JS without its // comments (comments may name what the code must never do)."""
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in js.splitlines())


def _path_literals(js: str) -> list[str]:
    return [lit for lit in re.findall(r"\"(/[^\"]*)\"|'(/[^']*)'|`(/[^`$]*)", js)
            for lit in lit if lit]  # fmt: skip


def _bundle(name: str) -> str:
    path = FRONTEND.parent / "static" / "dist" / name
    if not path.is_file():
        pytest.fail(NOT_BUILT, pytrace=False)
    return path.read_text(encoding="utf-8")


def test_the_sources_are_small_es_modules() -> None:
    assert {"main.js", "api.js", "dom.js", "activity-chart.js", "views/patient.js",
            "views/principal.js", "views/request.js", "views/alerts.js",
            "views/integrity.js"} <= set(CODE)  # fmt: skip
    for name, js in CODE.items():
        assert len(js.splitlines()) < 200, name
        assert '"use strict"' not in js  # modules are strict already
        for spec in re.findall(r'^import .* from "([^"]+)";$', js, re.M):
            assert spec.startswith(("./", "../")) or spec == "chart.js", (name, spec)


def test_js_never_writes_data_as_html() -> None:
    for name, js in CODE.items():
        assert not HTML_SINKS.findall(_code(js)), name
    assert "textContent" in CODE["dom.js"] and "createTextNode" in CODE["dom.js"]


def test_every_fetch_goes_to_the_auditor_api() -> None:
    calls = {name: re.findall(r"\bfetch\(([^,)]*)", _code(js)) for name, js in CODE.items()}
    # one generic call site, guarded to /audit/ paths, and the demo login; both in api.js
    assert {n: c for n, c in calls.items() if c} == {"api.js": ["path", f'"{DEMO_TOKEN}"']}
    code = _code(CODE["api.js"])
    assert 'const AUDIT_PREFIX = "/audit/";' in code
    assert code.index("if (!path.startsWith(AUDIT_PREFIX)) throw") < code.index("fetch(path")
    for name, js in CODE.items():
        assert not any(word in _code(js) for word in NETWORK), name


def test_every_path_the_js_names_is_an_auditor_route(trusted_app: ConsoleApp) -> None:
    """A literal starting with /audit/ begins an auditor route; any other "/..." literal
    continues one (e.g. "/accesses" after a patient id)."""
    app = trusted_app.client.app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation ids of the FHIR AuditEvent 405s
        paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    audit_routes = [p for p in paths if p.startswith("/audit/")]
    assert "/audit/alerts/{alert_id}/acknowledge" in audit_routes
    assert "/audit/principals/{sub}/activity" in audit_routes
    literals = [lit for js in CODE.values() for lit in _path_literals(_code(js)) if lit != "/"]
    assert "/activity" in literals and "/audit/alerts" in literals
    for literal in literals:
        if literal == DEMO_TOKEN:
            assert trusted_app.client.post(DEMO_TOKEN).status_code == 404  # a route: no 405
            continue
        path = literal.split("?")[0]
        if path.startswith("/audit/"):
            assert any(r.startswith(path) for r in audit_routes), literal
        else:
            assert any(path in r for r in audit_routes), literal


def test_nothing_is_loaded_from_another_origin() -> None:
    texts = {name: _code(js) for name, js in CODE.items()}
    texts["index.html"] = STATIC.joinpath("index.html").read_text(encoding="utf-8")
    texts["app.css"] = (FRONTEND / "src" / "app.css").read_text(encoding="utf-8")
    for name, text in texts.items():
        assert not re.search(r"https?://|//cdn|@import|url\(", text), name
    html = texts["index.html"]
    assert "<script>" not in html and " style=" not in html and "<style" not in html


def test_npm_packages_are_pinned_exactly() -> None:
    package = json.loads((FRONTEND / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((FRONTEND / "package-lock.json").read_text(encoding="utf-8"))
    wanted = {**package["dependencies"], **package["devDependencies"]}
    assert set(wanted) == {"chart.js", "esbuild"}
    assert wanted["chart.js"].startswith("4.")
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["lockfileVersion"] >= 2
    packages = [p for k, p in lock["packages"].items() if k]  # "": the project itself
    assert packages and all(p["integrity"].startswith("sha512-") for p in packages)
    assert package["scripts"]["build"] == "node build.mjs"


def test_the_bundle_calls_only_what_the_sources_call() -> None:
    js = _bundle("app.js")
    assert len(re.findall(r"\bfetch\(", js)) == 2 and f'fetch("{DEMO_TOKEN}"' in js
    assert not any(word in js for word in NETWORK)
    assert not HTML_SINKS.findall(js)
    assert "Chart.js v4." in js  # the chart library is in the bundle, not on a CDN
    code = re.sub(r"/\*!.*?\*/", "", js, flags=re.S)  # licence comments name their home pages
    assert not re.search(r"https?://|//cdn", code)
    assert not re.search(r"https?://|@import|url\(", _bundle("app.css"))


def test_the_built_files_are_package_data_and_not_committed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]["api.console"]
    assert "static/dist/*" in data and "static/*.html" in data
    assert STATIC.joinpath("index.html").is_file()
    for path in BUILT:
        assert path.startswith("dist/")
        _bundle(path.removeprefix("dist/"))
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "api/console/static/dist/" in ignored and "api/console/frontend/node_modules/" in ignored


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_pure_modules_pass_their_node_tests() -> None:
    result = subprocess.run(["node", "--test", "test/"], cwd=FRONTEND, capture_output=True,
                            text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
