"""The console pages through the real app: served without a token, with a strict CSP, each
request audited; 503 until the front end is built; the demo token only while the development
issuer is on."""

import re
from pathlib import Path

import jwt
import pytest

from api.console import routes
from api.console.routes import CSP, DEMO_SCOPE, DEMO_SUB, DEMO_TTL_S
from tests.api.console.conftest import ConsoleApp

PAGES = [
    ("/console", "text/html"),
    ("/console/", "text/html"),
    ("/console/index.html", "text/html"),
    ("/console/app.js", "text/javascript"),
    ("/console/app.css", "text/css"),
    ("/console/favicon.svg", "image/svg+xml"),
]


@pytest.mark.parametrize(("path", "media_type"), PAGES)
def test_console_pages_are_served_with_a_strict_csp(
    trusted_app: ConsoleApp, path: str, media_type: str
) -> None:
    response = trusted_app.client.get(path)  # no token: the pages hold no data
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    csp = response.headers["content-security-policy"]
    assert csp == CSP
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/console/evil.js", "/console/..%2Fapp.py",
                                  "/console/routes.py", "/console/__init__.py"])  # fmt: skip
def test_unknown_console_assets_answer_404(trusted_app: ConsoleApp, path: str) -> None:
    response = trusted_app.client.get(path)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_index_loads_only_local_assets(trusted_app: ConsoleApp) -> None:
    html = trusted_app.client.get("/console").text
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert "/console/app.js" in refs and "/console/app.css" in refs
    assert all(ref.startswith(("/console/", "#")) for ref in refs), refs
    assert "<script>" not in html and " style=" not in html  # nothing inline (CSP forbids it)


def test_the_bundle_is_what_app_js_and_app_css_serve(trusted_app: ConsoleApp) -> None:
    dist = Path(str(routes.static_root())) / "dist"
    for name in ("app.js", "app.css"):
        assert trusted_app.client.get(f"/console/{name}").content == (dist / name).read_bytes()


@pytest.mark.parametrize("path", ["/console", "/console/app.js", "/console/app.css"])
def test_an_unbuilt_console_answers_503_saying_how_to_build_it(
    demo_app: ConsoleApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>", encoding="utf-8")
    monkeypatch.setattr(routes, "static_root", lambda: tmp_path)  # no dist/: not built
    monkeypatch.setattr(routes, "_loaded", {})
    response = demo_app.client.get(path)
    assert response.status_code == 503
    assert response.headers["content-security-policy"] == CSP
    issue = response.json()["issue"][0]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "transient"
    assert "npm ci && npm run build" in issue["diagnostics"]
    assert "api/console/frontend" in issue["diagnostics"]
    minted = demo_app.client.post("/console/demo-token")  # the API itself is unaffected
    headers = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    demo_app.settle()
    rid = response.headers["x-request-id"]
    event = demo_app.client.get(f"/audit/requests/{rid}", headers=headers).json()
    assert event["action"] == "console.page" and event["status"] == 503
    assert event["decision"] == "deny" and event["reasons"] == ["dependency.failed"]


def test_demo_token_is_404_when_a_trusted_issuer_is_configured(trusted_app: ConsoleApp) -> None:
    response = trusted_app.client.post("/console/demo-token")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "access_token" not in response.text


def test_demo_token_works_on_the_auditor_api(demo_app: ConsoleApp) -> None:
    response = demo_app.client.post("/console/demo-token")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sub"] == DEMO_SUB and body["scope"] == DEMO_SCOPE
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == DEMO_SUB and claims["scope"] == DEMO_SCOPE
    assert claims["exp"] - claims["iat"] == DEMO_TTL_S
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    alerts = demo_app.client.get("/audit/alerts", headers=headers)
    assert alerts.status_code == 200, alerts.text
    assert alerts.json()["alerts"] == []
    # read-only: acting on alerts (acknowledge, suppress) is refused before the alert is
    # even looked up, for want of AuditEvent update
    for action, body in (
        ("acknowledge", {"reason": "demo"}),
        ("suppress", {"reason": "demo", "until": "2999-01-01T00:00:00Z"}),
    ):
        acted = demo_app.client.post(f"/audit/alerts/al-none/{action}", headers=headers,
                                     json=body)  # fmt: skip
        assert acted.status_code == 403, (action, acted.text)
        assert "AuditEvent" in acted.headers["www-authenticate"]


def test_console_requests_are_evidence(demo_app: ConsoleApp) -> None:
    page = demo_app.client.get("/console/app.js")
    minted = demo_app.client.post("/console/demo-token")
    headers = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    demo_app.settle()
    seen = {}
    for response in (page, minted):
        rid = response.headers["x-request-id"]
        lifecycle = demo_app.client.get(f"/audit/requests/{rid}", headers=headers)
        assert lifecycle.status_code == 200, lifecycle.text
        seen[lifecycle.json()["action"]] = lifecycle.json()
    assert set(seen) == {"console.page", "console.demo_token"}
    assert all(e["decision"] == "allow" for e in seen.values())
    assert all(e["reasons"] == ["public.endpoint"] for e in seen.values())


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/docs", "/redoc"])
def test_metrics_and_the_api_description_are_off_by_default(
    trusted_app: ConsoleApp, path: str
) -> None:
    """Opt-in (FHIR_EVIDENCE_EXPOSE_METRICS / _OPENAPI): by default they answer like any
    unknown path, and the refusal is recorded."""
    response = trusted_app.client.get(path)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "fhir_evidence_requests" not in response.text and "openapi" not in response.text
