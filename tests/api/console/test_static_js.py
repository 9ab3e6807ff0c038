"""Static checks of the console's code: data is never written as HTML, every data request
goes to an existing auditor API route, nothing is loaded from another origin, and the
files ship with the package."""

import re
import tomllib
import warnings
from importlib import resources
from pathlib import Path

from tests.api.console.conftest import ConsoleApp

STATIC = resources.files("api.console").joinpath("static")
JS = STATIC.joinpath("app.js").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parents[3]
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function"
    r"|\.srcdoc\b|createContextualFragment"
)
DEMO_TOKEN = "/console/demo-token"


def _code(js: str) -> str:
    """The JS without its // comments (comments may name what the code must never do)."""
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in js.splitlines())


def _path_literals(js: str) -> list[str]:
    return [lit for lit in re.findall(r"\"(/[^\"]*)\"|'(/[^']*)'|`(/[^`$]*)", js)
            for lit in lit if lit]  # fmt: skip


def test_js_never_writes_data_as_html() -> None:
    code = _code(JS)
    assert not HTML_SINKS.findall(code)
    assert "textContent" in code or "createTextNode" in code


def test_every_fetch_goes_to_the_auditor_api() -> None:
    code = _code(JS)
    calls = re.findall(r"\bfetch\(([^,)]*)", code)
    # one generic call site, guarded to /audit/ paths, and the demo login
    assert sorted(calls) == sorted(["path", f'"{DEMO_TOKEN}"']), calls
    guard = code.index('if (!path.startsWith("/audit/")) throw')
    assert guard < code.index("fetch(path")
    assert "XMLHttpRequest" not in code and "EventSource" not in code
    assert "sendBeacon" not in code and "WebSocket" not in code


def test_every_path_the_js_names_is_an_auditor_route(trusted_app: ConsoleApp) -> None:
    """A literal starting with /audit/ begins an auditor route; any other "/..." literal
    continues one (e.g. "/accesses" after a patient id)."""
    app = trusted_app.client.app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation ids of the FHIR AuditEvent 405s
        paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    audit_routes = [p for p in paths if p.startswith("/audit/")]
    assert "/audit/alerts/{alert_id}/acknowledge" in audit_routes
    literals = [lit for lit in _path_literals(_code(JS)) if lit != "/"]  # "/" joins segments
    assert literals
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
    for name in ("index.html", "app.js", "app.css"):
        text = STATIC.joinpath(name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|//cdn|@import|url\(", _code(text) if name == "app.js"
                             else text), name  # fmt: skip


def test_static_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["package-data"]["api.console"] == ["static/*"]
    for name in ("index.html", "app.js", "app.css"):
        assert STATIC.joinpath(name).is_file()
