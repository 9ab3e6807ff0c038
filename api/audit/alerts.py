"""Auditor routes for anomaly alerts (contract §8-§9): list with filters and paging, and one
alert expanded into the evidence rows behind it. Audited like every auditor read."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.paging import after_cursor, json_response, page_body, staff_auditor, window
from api.audit.views import access_view, iso_from_us
from api.errors import InvalidRequest, NotFound
from api.services import Services, audit

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
    }


def _filter(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > 200:
        raise InvalidRequest(f"{name} is too long.")
    return value


@router.get("/alerts")
async def list_alerts(request: Request) -> Response:
    svc, principal = staff_auditor(request, "audit.alerts")
    since, until, limit = window(request)
    kind, who = _filter(request, "kind"), _filter(request, "principal")
    key = f"alerts:{kind}:{who}:{since}:{until}"
    after = after_cursor(svc, request, principal, key)
    rows = await run_in_threadpool(svc.store.alerts, since, until, kind, who, limit, after)
    body = page_body(svc, request, principal, key, rows, limit, name="alerts", view=alert_view,
                     sort_key=("last_seen_us", "alert_id"))  # fmt: skip
    return json_response(body)


@router.get("/alerts/{alert_id}")
async def one_alert(request: Request, alert_id: str) -> Response:
    """The alert and the evidence behind it (its request ids, expanded)."""
    svc, _principal = staff_auditor(request, "audit.alert")
    row = await run_in_threadpool(svc.store.alert, alert_id[:64])
    if row is None:
        raise NotFound("No such alert.")
    evidence = await run_in_threadpool(_evidence, svc, list(row["request_ids"])[:EXPANDED_MAX])
    audit(request).count_returned = 1 + len(evidence)
    body = {**alert_view(row), "evidence": evidence}
    return json_response(body)


def _evidence(svc: Services, request_ids: list[str]) -> list[dict[str, Any]]:
    return [access_view(r) for rid in request_ids for r in svc.store.request_events(rid)]
