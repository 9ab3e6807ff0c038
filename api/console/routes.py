"""GET /console (index.html, app.js, app.css) and, only while the development issuer is on,
POST /console/demo-token.

The pages carry no data and need no token: the browser calls the auditor API (/audit/*)
with the token held in sessionStorage, so every read is authorized and audited like any
other auditor read. Every console response has a strict Content-Security-Policy (scripts,
styles and connections from this origin only, no inline code, no framing).
"""

from functools import cache
from importlib import resources

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.devissuer import mint_token
from api.fhir.responses import outcome_response
from api.services import audit, services
from evidence.core import Decision, ReasonCode

router = APIRouter(prefix="/console", include_in_schema=False)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
DEMO_SUB = "console-demo"
DEMO_SCOPE = "system/AuditEvent.rus"
DEMO_CLIENT = "fhir-evidence-console-demo"
DEMO_TTL_S = 900


@cache
def asset(name: str) -> bytes:
    return resources.files("api.console").joinpath("static", name).read_bytes()


def _serve(request: Request, name: str) -> Response:
    record = audit(request)
    record.target("console.page")
    if name not in ASSETS:
        record.decide(Decision.DENY, str(ReasonCode.NOT_FOUND))
        return outcome_response(404, "not-found", "Resource not found.")
    record.decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
    return Response(asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)


@router.get("")
@router.get("/")
async def index(request: Request) -> Response:
    return _serve(request, "index.html")


@router.get("/{name}")
async def static_asset(request: Request, name: str) -> Response:
    return _serve(request, name)


@router.post("/demo-token")
async def demo_token(request: Request) -> Response:
    """Demo only: a short-lived auditor token (read + act on alerts) from the development
    issuer. 404 as soon as a trusted issuer is configured (the development issuer is off)."""
    record = audit(request)
    record.target("console.demo_token")
    settings = services(request).settings
    if not settings.dev_issuer_enabled:
        record.decide(Decision.DENY, str(ReasonCode.NOT_FOUND))
        return outcome_response(404, "not-found", "Resource not found.")
    record.decide(Decision.ALLOW, str(ReasonCode.PUBLIC_ENDPOINT))
    record.count_returned = 1
    token = mint_token(settings, DEMO_SUB, DEMO_SCOPE, DEMO_TTL_S, client_id=DEMO_CLIENT)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": DEMO_TTL_S,
            "scope": DEMO_SCOPE, "sub": DEMO_SUB}  # fmt: skip
    return Response(orjson.dumps(body), media_type="application/json", headers=SECURITY_HEADERS)
