"""FHIR interactions this server does not implement, answered 501 `not-supported`
(`interaction.not_supported`) instead of a misleading 404: batch/transaction (`POST /fhir`),
system search (`GET /fhir`), history (system, type, instance), compartment search and
instance operations (`GET /fhir/Patient/{id}/Observation`, `.../$everything`), patch, and
conditional update, patch and delete (`PUT`/`PATCH`/`DELETE /fhir/{type}`). The
CapabilityStatement advertises none of them.

Ordering, as for every /fhir call: an unserved resource type answers 404 before any token
check (as reads do; `/fhir/metadata` 405), then the token (401), then 501 whatever the
scopes. No id is ever looked
up: the answer is the same for an id that exists, is hidden or never existed. Each request is
recorded with its interaction as the action. Two routers: `history_router` goes before every
other FHIR router (`/fhir/Patient/_history` would otherwise be read as the id `_history`),
`router` after them all (`/fhir/{type}/{id}/{x}` would otherwise shadow `/fhir/Group/{id}/
$export` and `/fhir/$export-file/{job}/{file}`).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.data.indexing import SEARCH_PARAMS
from api.errors import MethodNotAllowed, NotFound, NotSupported
from api.http.deps import CurrentPrincipal, audit

__all__ = ["UNSUPPORTED", "history_router", "router"]

history_router = APIRouter(prefix="/fhir")
router = APIRouter(prefix="/fhir")
SERVED_TYPES = frozenset(SEARCH_PARAMS) | {"AuditEvent"}

# (method, path under /fhir, recorded action, what the OperationOutcome says is unsupported)
UNSUPPORTED: tuple[tuple[str, str, str, str], ...] = (
    ("GET", "/_history", "history-system", "History"),
    ("GET", "/{resource_type}/_history", "history-type", "History"),
    ("GET", "/{resource_type}/{resource_id}/_history", "history-instance", "History"),
    ("POST", "", "transaction", "Batch and transaction Bundles"),
    ("GET", "", "search-system", "Searching across all resource types"),
    ("GET", "/{resource_type}/{resource_id}/{compartment}", "search-compartment",
     "Compartment search"),
    ("PATCH", "/{resource_type}/{resource_id}", "patch", "Patch"),
    ("PUT", "/{resource_type}", "update-conditional", "Conditional update"),
    ("PATCH", "/{resource_type}", "patch-conditional", "Conditional patch"),
    ("DELETE", "/{resource_type}", "delete-conditional", "Conditional delete"),
)  # fmt: skip


def _asked(action: str, what: str) -> Callable[..., Awaitable[str]]:
    """A dependency: the interaction recorded as the request's target, the path's resource
    types checked (an unserved one is 404, before any token check, its name kept hashed)."""

    async def asked(request: Request) -> str:
        record, params = audit(request), request.path_params
        kind = params.get("resource_type", "")
        record.target(action, record.word(kind, SERVED_TYPES) if kind else "")
        compartment = params.get("compartment", "")
        if kind == "metadata":  # a path served with GET only
            raise MethodNotAllowed()
        for name in (kind, "" if compartment.startswith("$") else compartment):
            if name and name not in SERVED_TYPES:
                raise NotFound("Unknown or unsupported resource type.")
        if compartment.startswith("$"):
            return "Operations on a resource"
        return what

    return asked


def _refusal(action: str, what: str) -> Callable[..., Awaitable[Response]]:
    async def unsupported(
        refused: Annotated[str, Depends(_asked(action, what))], principal: CurrentPrincipal
    ) -> Response:
        """Asked first (recorded, 404 for an unserved type), then the token (401)."""
        raise NotSupported(f"{refused} is not supported by this server.")

    unsupported.__name__ = f"unsupported_{action.replace('-', '_')}"
    return unsupported


for _method, _path, _action, _what in UNSUPPORTED:
    _router = history_router if _path.endswith("_history") else router
    _router.add_api_route(  # not in the OpenAPI document: it describes what is served
        _path,
        _refusal(_action, _what),
        methods=[_method],
        name=f"unsupported_{_action}",
        include_in_schema=False,
    )
