"""Auditor routes for anomaly alerts (the contract's auditor API and alerts): list with
filters (kind, principal, status) and paging, and one alert expanded into the evidence rows
behind it and the actions taken on it (acknowledge / suppress: `alert_actions`). Audited
like every auditor read."""

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.access import StaffReading
from api.audit.paging import after_cursor, answered, json_response, page_body, window
from api.audit.serving import Auditing, AuditServices
from api.audit.views import access_view, iso_from_us
from api.errors import InvalidRequest, NotFound
from api.http.deps import target
from evidence.core.alert_actions import STATUSES, AlertAction, latest, status_at
from evidence.core.queries import AlertFilter
from stream.detection.alerts import SEVERITIES

router = APIRouter(prefix="/audit")
EXPANDED_MAX = 100


def alert_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["alert_id"],
        "kind": row["kind"],
        "severity": row["severity"],
        "time": iso_from_us(int(row["first_seen_us"])),
        "last_seen": iso_from_us(int(row["last_seen_us"])),
        "principal": row["principal"],
        "window": {
            "start": iso_from_us(int(row["window_start_us"])),
            "seconds": int(row["window_s"]),
        },
        "counts": orjson.loads(row["counts"] or "{}"),
        "rule_version": row["rule_version"],
        "request_ids": list(row["request_ids"]),
        "summary": row["summary"],
        "explanation": orjson.loads(row.get("explanation") or "{}"),
    }


def action_view(action: AlertAction) -> dict[str, Any]:
    return {
        "action": action.action,
        "by": action.actor,
        "at": iso_from_us(action.at_us),
        "reason": action.reason,
        "until": iso_from_us(action.until_us) if action.until_us else None,
        "request_id": action.request_id,
    }


def actions_view(actions: list[AlertAction], now_us: int) -> dict[str, Any]:
    """The alert's status at `now_us` and its latest action (None: none yet)."""
    last = latest(actions)
    return {
        "status": status_at(last, now_us),
        "last_action": None if last is None else action_view(last),
    }


def _filter(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > 200:
        raise InvalidRequest(f"{name} is too long.")
    return value


@router.get("/alerts", dependencies=[Depends(target("audit.alerts", "AuditEvent"))])
async def list_alerts(request: Request, auditor: StaffReading, auditing: AuditServices) -> Response:
    since, until, limit = window(request)
    kind, who, status = _filter(request, "kind"), _filter(request, "principal"), _status(request)
    f = AlertFilter(since, until, kind, who, status, _severity(request))
    key = f"alerts:{kind}:{who}:{status}:{f.severity}:{since}:{until}"
    after = after_cursor(auditing, request, auditor.principal, key)
    now_us = int(auditing.clock() * 1_000_000)
    entries = await run_in_threadpool(auditing.evidence.alerts_page, f, now_us, limit, after)
    latest_of = {str(e.alert["alert_id"]): e.latest for e in entries}

    def view(row: dict[str, Any]) -> dict[str, Any]:
        last = latest_of[str(row["alert_id"])]
        return {**alert_view(row), **actions_view([last] if last else [], now_us)}

    rows = [entry.alert for entry in entries]
    body = page_body(auditing, request, auditor.principal, key, rows, limit, name="alerts",
                     view=view, sort_key=("last_seen_us", "alert_id"))  # fmt: skip
    return json_response(body)


def _severity(request: Request) -> str:
    severity = request.query_params.get("severity", "")
    if severity and severity not in SEVERITIES:
        raise InvalidRequest(f"severity must be one of {', '.join(SEVERITIES)}.")
    return severity


def _status(request: Request) -> str:
    status = request.query_params.get("status", "")
    if status and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.")
    return status


@router.get("/alerts/{alert_id}", dependencies=[Depends(target("audit.alert", "AuditEvent"))])
async def one_alert(
    request: Request, alert_id: str, _auditor: StaffReading, auditing: AuditServices
) -> Response:
    """The alert, the evidence behind it (its request ids, expanded) and its actions."""
    queries = auditing.evidence
    row = await run_in_threadpool(queries.alert, alert_id[:64])
    if row is None:
        raise NotFound("No such alert.")
    request_ids = list(row["request_ids"])[:EXPANDED_MAX]
    evidence = await run_in_threadpool(_evidence, auditing, request_ids)
    actions = await run_in_threadpool(queries.alert_actions, str(row["alert_id"]))
    answered(request, 1 + len(evidence))
    now_us = int(auditing.clock() * 1_000_000)
    body = {
        **alert_view(row),
        **actions_view(actions, now_us),
        "actions": [action_view(a) for a in actions],
        "evidence": evidence,
    }
    return json_response(body)


def _evidence(auditing: Auditing, request_ids: list[str]) -> list[dict[str, Any]]:
    queries = auditing.evidence
    return [access_view(r) for rid in request_ids for r in queries.request_events(rid)]
