"""Shared by the auditor routes: time windows, signed page cursors, answers."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from api.audit.serving import Auditing
from api.audit.views import access_view, parse_instant_us
from api.errors import InvalidRequest
from api.http.deps import audit
from api.http.outcomes import FhirResponse
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor
from api.security.disclosure import Disclosure
from api.security.principal import Principal
from api.security.verdict import ALLOWED
from evidence.core import ReasonCode
from evidence.core.queries import FOREVER_US, Position

PAGE_DEFAULT = 100
PAGE_MAX = 1000


def json_response(body: dict[str, Any]) -> Response:
    return FhirResponse(body, media_type="application/json")


def answered(request: Request, returned: int) -> None:
    """An auditor read served: `returned` rows (events, alerts, checkpoints...)."""
    audit(request).conclude(ALLOWED, Disclosure(returned=returned))


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
    auditing: Auditing, request: Request, principal: Principal, key: str
) -> Position | None:
    token = request.query_params.get("_cursor")
    if not token:
        return None
    try:
        now = int(auditing.clock())
        position = decode_cursor(auditing.cursor_key, token, principal.binding, key, now)
        ts, _, event_id = str(position).partition(":")
        return int(ts), event_id
    except (CursorInvalid, ValueError):
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


def page_body(
    auditing: Auditing,
    request: Request,
    principal: Principal,
    key: str,
    rows: list[dict[str, Any]],
    limit: int,
    name: str = "accesses",
    view: Callable[[dict[str, Any]], dict[str, Any]] = access_view,
    sort_key: tuple[str, str] = ("ts_us", "event_id"),
) -> dict[str, Any]:
    """One page of rows as `{name: [...], next: url}` (the request answered with them); the
    cursor is signed and bound to the auditor and the query `key`."""
    answered(request, len(rows))
    body: dict[str, Any] = {name: [view(row) for row in rows]}
    if rows and len(rows) == limit:
        last = rows[-1]
        position = f"{int(last[sort_key[0]])}:{last[sort_key[1]]}"
        now = int(auditing.clock())
        cursor = encode_cursor(auditing.cursor_key, principal.binding, key, position, now)
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        body["next"] = f"{auditing.base_url}{request.url.path}?" + urlencode(
            [*kept, ("_cursor", cursor)]
        )
    return body
