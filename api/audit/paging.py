"""Shared by the auditor routes: who may audit, time windows, signed page cursors."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from api.audit.views import access_view, parse_instant_us
from api.errors import Forbidden, InvalidRequest
from api.fhir.responses import FhirResponse
from api.http.deps import Services, audit, services
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor
from api.security.principal import Principal
from evidence.core import ReasonCode
from evidence.store.access_query import FOREVER_US

PAGE_DEFAULT = 100
PAGE_MAX = 1000


def auditor(
    request: Request, action: str, interaction: str = "search"
) -> tuple[Services, Principal, bool]:
    """Authenticate and authorize an auditor; returns whether only patient scopes granted.
    `interaction`: "search" to read the evidence, "update" to act on it (alerts)."""
    audit(request).target(action, "AuditEvent")
    svc = services(request)
    principal = svc.guard.authenticate(request)
    plan = svc.guard.authorize(request, principal, "AuditEvent", interaction)
    contexts = {s.context for s in principal.scopes if s.raw in plan.scopes_used}
    return svc, principal, contexts == {"patient"}


def staff_auditor(
    request: Request, action: str, interaction: str = "search"
) -> tuple[Services, Principal]:
    """An auditor with user/ or system/ AuditEvent scope; patient-context tokens may read
    only their own patient's accesses, nothing else (403)."""
    svc, principal, patient_only = auditor(request, action, interaction)
    if patient_only:
        raise Forbidden()
    return svc, principal


def json_response(body: dict[str, Any]) -> Response:
    return FhirResponse(body, media_type="application/json")


def window(
    request: Request, since_default: int = 0, until_default: int = FOREVER_US
) -> tuple[int, int, int]:
    q = request.query_params
    since = parse_instant_us(q.get("since"), since_default)
    until = parse_instant_us(q.get("until"), until_default)
    count = q.get("_count") or q.get("limit") or str(PAGE_DEFAULT)
    if not count.isdigit():
        raise InvalidRequest("_count (or limit) must be a non-negative integer.")
    return since, until, min(int(count), PAGE_MAX)


def after_cursor(
    svc: Services, request: Request, principal: Principal, key: str
) -> tuple[int, str] | None:
    token = request.query_params.get("_cursor")
    if not token:
        return None
    try:
        position = decode_cursor(svc.cursor_key, token, principal.binding, key, int(svc.clock()))
        ts, _, event_id = str(position).partition(":")
        return int(ts), event_id
    except (CursorInvalid, ValueError):
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


def page_body(
    svc: Services,
    request: Request,
    principal: Principal,
    key: str,
    rows: list[dict[str, Any]],
    limit: int,
    name: str = "accesses",
    view: Callable[[dict[str, Any]], dict[str, Any]] = access_view,
    sort_key: tuple[str, str] = ("ts_us", "event_id"),
) -> dict[str, Any]:
    """One page of rows as `{name: [...], next: url}`; the cursor is signed and bound to the
    auditor and the query `key`."""
    record = audit(request)
    record.count_returned = len(rows)
    body: dict[str, Any] = {name: [view(row) for row in rows]}
    if rows and len(rows) == limit:
        last = rows[-1]
        position = f"{int(last[sort_key[0]])}:{last[sort_key[1]]}"
        cursor = encode_cursor(svc.cursor_key, principal.binding, key, position, int(svc.clock()))
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        body["next"] = f"{svc.settings.base_url}{request.url.path}?" + urlencode(
            [*kept, ("_cursor", cursor)]
        )
    return body
