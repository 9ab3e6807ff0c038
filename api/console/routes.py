"""GET /console (index.html, app.js, app.css) and, only while the development issuer is on,
POST /console/demo-token (a read-only auditor token).

app.js and app.css are the front end built from `api/console/frontend/` (npm packages pinned
in its package-lock.json, bundled by esbuild into `static/dist/` by `npm ci && npm run build`,
which the install scripts and the Dockerfile run). Until it is built, every console page
answers 503 with an OperationOutcome saying so.

The pages carry no data and need no token: the browser calls the auditor API (/audit/*)
with the token held in sessionStorage, so every read is authorized and audited like any
other auditor read. Every console response has a strict Content-Security-Policy (scripts,
styles and connections from this origin only, no inline code, no framing).
"""

from importlib import resources
from importlib.resources.abc import Traversable

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console.dev_issuer import DevIssuerIfOn
from api.http.deps import audit
from api.http.outcomes import outcome_response
from api.security.disclosure import Disclosure
from api.security.verdict import PUBLIC, deny
from evidence.core import ReasonCode

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
# URL name -> (file under static/, media type): the only files served.
ASSETS = {
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("dist/app.js", "text/javascript; charset=utf-8"),
    "app.css": ("dist/app.css", "text/css; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}
BUILT = ("dist/app.js", "dist/app.css")
NOT_BUILT = (
    "The console is not built: run `npm ci && npm run build` in api/console/frontend "
    "(scripts/serve.sh and scripts/test.sh do it)."
)
DEMO_SUB = "console-demo"
# Read and search only: acting on alerts (acknowledge, suppress) needs AuditEvent update,
# which a token anyone can get from the demo login must never carry.
DEMO_SCOPE = "system/AuditEvent.rs"
DEMO_CLIENT = "fhir-evidence-console-demo"
DEMO_TTL_S = 900
NOT_FOUND = deny(ReasonCode.NOT_FOUND)
NOT_BUILT_YET = deny(ReasonCode.DEPENDENCY_FAILED)


def static_root() -> Traversable:
    return resources.files("api.console").joinpath("static")


_loaded: dict[str, bytes] = {}


def asset(path: str) -> bytes | None:
    """A file under static/, kept once read; None while it does not exist (not built)."""
    if path not in _loaded:
        file = static_root().joinpath(*path.split("/"))
        if not file.is_file():
            return None
        _loaded[path] = file.read_bytes()
    return _loaded[path]


def built() -> bool:
    return all(asset(path) is not None for path in BUILT)


def _serve(request: Request, name: str) -> Response:
    record = audit(request)
    record.target("console.page")
    if name not in ASSETS:
        record.conclude(NOT_FOUND)
        return outcome_response(404, "not-found", "Resource not found.")
    path, media_type = ASSETS[name]
    body = asset(path)
    if body is None or not built():
        record.conclude(NOT_BUILT_YET)
        return outcome_response(503, "transient", NOT_BUILT, headers=SECURITY_HEADERS)
    record.conclude(PUBLIC)
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("")
@router.get("/")
async def index(request: Request) -> Response:
    return _serve(request, "index.html")


@router.get("/{name}")
async def static_asset(request: Request, name: str) -> Response:
    return _serve(request, name)


@router.post("/demo-token")
async def demo_token(request: Request, issuer: DevIssuerIfOn) -> Response:
    """Demo only: a short-lived, read-only auditor token from the development issuer (on
    only while `serve` listens on a loopback address, or in FHIR_EVIDENCE_DEV_MODE). 404 as
    soon as a trusted issuer is configured (the development issuer is off)."""
    record = audit(request)
    record.target("console.demo_token")
    if issuer is None:
        record.conclude(NOT_FOUND)
        return outcome_response(404, "not-found", "Resource not found.")
    record.conclude(PUBLIC, Disclosure(returned=1))
    token = issuer.mint(DEMO_SUB, DEMO_SCOPE, DEMO_TTL_S, client_id=DEMO_CLIENT)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": DEMO_TTL_S,
            "scope": DEMO_SCOPE, "sub": DEMO_SUB}  # fmt: skip
    return Response(orjson.dumps(body), media_type="application/json", headers=SECURITY_HEADERS)
