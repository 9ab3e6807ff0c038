"""Auditors act on alerts: acknowledge one, or suppress it, with a reason.

    POST /audit/alerts/{id}/acknowledge   {"reason": "..."}
    POST /audit/alerts/{id}/suppress      {"reason": "...", "until": "<ISO 8601 instant>"}

`reason`: plain text, 1-500 characters (no identifiers: it is kept in the evidence store;
references become pseudonyms and identifiers of known shapes `[id withheld]`, see
`evidence.core.scrub`, before it is kept).
`until` (suppress only): in the future, at most a year ahead; by default the end of the
alert's episode. Acting needs AuditEvent write permission (`system/AuditEvent.u`, or
`.cu`, v1 `.write`; user/ too, patient/ never). The action is recorded in the evidence
store and as its own chained event in this request's lifecycle; a suppression stops the
detector raising or updating alerts of the alert's kind and principal until it ends.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.access import StaffActing
from api.audit.alerts import actions_view, alert_view
from api.audit.paging import answered, json_response
from api.audit.serving import Auditing, AuditServices
from api.errors import NotFound, UnprocessableResource
from api.http.deps import audit, target
from api.security.principal import Principal
from evidence.core.alert_actions import (
    ACKNOWLEDGE,
    REASON_MAX,
    SUPPRESS,
    AlertAction,
    check_reason,
    episode_end_us,
)
from evidence.core.scrub import scrubbed_text

router = APIRouter(prefix="/audit")
UNTIL_MAX = timedelta(days=366)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS = {ACKNOWLEDGE: {"reason"}, SUPPRESS: {"reason", "until"}}


def _acting(action: str) -> list[Any]:
    return [Depends(target(f"audit.alert.{action}", "AuditEvent"))]


@router.post("/alerts/{alert_id}/acknowledge", dependencies=_acting(ACKNOWLEDGE))
async def acknowledge(
    request: Request, alert_id: str, auditor: StaffActing, auditing: AuditServices
) -> Response:
    return await _act(request, auditing, auditor.principal, alert_id, ACKNOWLEDGE)


@router.post("/alerts/{alert_id}/suppress", dependencies=_acting(SUPPRESS))
async def suppress(
    request: Request, alert_id: str, auditor: StaffActing, auditing: AuditServices
) -> Response:
    return await _act(request, auditing, auditor.principal, alert_id, SUPPRESS)


async def _act(
    request: Request, auditing: Auditing, principal: Principal, alert_id: str, action: str
) -> Response:
    now_us = int(auditing.clock() * 1_000_000)
    typed, until_us = parse_body(await request.body(), action, now_us)
    reason = scrubbed_text(typed, auditing.pseudonymizer, REASON_MAX)  # no raw ids kept
    row = await run_in_threadpool(auditing.evidence.alert, alert_id[:64])
    if row is None:
        raise NotFound("No such alert.")
    if action == SUPPRESS and until_us is None:
        until_us = _episode_end(row, now_us)
    record = AlertAction(
        alert_id=str(row["alert_id"]), action=action, kind=str(row["kind"]),
        principal=str(row["principal"]), actor=_actor(principal), reason=reason,
        at_us=now_us, until_us=until_us or 0, request_id=audit(request).request_id,
    )  # fmt: skip
    identity = (principal.sub, principal.client_id, principal.issuer)
    await auditing.alert_actions.record(record, audit(request).trace_id, identity)
    answered(request, 1)
    return json_response({**alert_view(row), **actions_view([record], now_us)})


def parse_body(body: bytes, action: str, now_us: int) -> tuple[str, int | None]:
    """(reason, until or None) of a request body; 422 when it is not what is documented."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UnprocessableResource("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise UnprocessableResource("The body must be a JSON object.")
    unknown = sorted(set(data) - _FIELDS[action])
    if unknown:
        raise UnprocessableResource(f"Unknown fields: {', '.join(unknown)[:200]}.")
    try:
        reason = check_reason(data.get("reason"))
    except ValueError as exc:
        raise UnprocessableResource(f"Invalid reason: {exc}.") from None
    until = data.get("until")
    return reason, None if until is None else _until_us(until, now_us)


def _until_us(value: Any, now_us: int) -> int:
    if not isinstance(value, str):
        raise UnprocessableResource("until must be an ISO 8601 date-time.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UnprocessableResource("until must be an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    until_us = (moment - _EPOCH) // timedelta(microseconds=1)
    if not now_us < until_us <= now_us + UNTIL_MAX // timedelta(microseconds=1):
        raise UnprocessableResource("until must be in the future, at most a year ahead.")
    return until_us


def _episode_end(row: dict[str, Any], now_us: int) -> int:
    end = episode_end_us(int(row["window_start_us"]), int(row["window_s"]))
    if end <= now_us:
        raise UnprocessableResource("The alert's episode is over: say until when to suppress.")
    return end


def _actor(principal: Principal) -> str:
    """Who acted, named as the evidence names principals."""
    return principal.sub or f"client:{principal.client_id}"
