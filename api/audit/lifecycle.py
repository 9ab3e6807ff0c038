"""The whole lifecycle of one request, from its evidence rows and the alerts it fed (pure):
authentication, authorization, response, sealed evidence, alerts, and where its proof and
its FHIR AuditEvents are."""

from typing import Any

from api.audit.auditevent import event_parts
from api.audit.views import access_view

Row = dict[str, Any]
_PUBLIC = "public.endpoint"


def _authentication(view: dict[str, Any]) -> dict[str, Any]:
    refused = [r for r in view["reasons"] if r.startswith("token.")]
    if refused:
        outcome = "refused"
    elif view["principal"]["sub"]:
        outcome = "accepted"
    else:
        outcome = "not required" if _PUBLIC in view["reasons"] else "not reached"
    return {
        "stage": "authentication",
        "outcome": outcome,
        "reasons": refused,
        "principal": view["principal"],
        "token": view["token"],
    }


def _authorization(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "authorization",
        "decision": view["decision"],
        "reasons": [r for r in view["reasons"] if not r.startswith("token.")],
        "policy_version": view["policy_version"],
        "scopes_granted": view["scopes_granted"],
        "scopes_used": view["scopes_used"],
        "purpose_of_use": view["purpose_of_use"],
        "break_glass": view["purpose_of_use"] == "ETREAT",
    }


def _response(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "response",
        "status": view["status"],
        "action": view["action"],
        "resource_type": view["resource_type"],
        "count_returned": view["count_returned"],
        "count_withheld": view["count_withheld"],
        "count_redacted": view["count_redacted"],
        "patients": len(view["patient_pseudonyms"]),
        "resources": len(view["resource_pseudonyms"]),
    }


def _evidence(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "evidence",
        "time": view["time"],
        "recorded_at": view["recorded_at"],
        "seal": view["seal"],
        "key_version": view["key_version"],
    }


def lifecycle(
    request_id: str, rows: list[Row], alerts: list[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    """The body of GET /audit/requests/{id}: the (first) event's fields at the top level,
    every event of the request, the stages, the alerts (views) and the links."""
    views = [access_view(row) for row in rows]
    first = views[0]
    stages = [_authentication(first), _authorization(first), _response(first), _evidence(first)]
    stages.append({"stage": "alerts", "alert_ids": [a["id"] for a in alerts]})
    request_url = f"{base_url}/audit/requests/{request_id}"
    return {
        "request_id": request_id,
        **first,
        "events": views,
        "lifecycle": stages,
        "alerts": alerts,
        "proof": f"{request_url}/proof",
        "auditevents": [
            f"{base_url}/fhir/AuditEvent/{aid}" for row in rows for aid, _ in event_parts(row)
        ],
    }
