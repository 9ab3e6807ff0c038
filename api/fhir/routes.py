"""FHIR read and search routes, and the public discovery documents. Thin: each gets what it
needs through typed dependencies (the served type and what was asked first, then the
caller, then the services) and concludes its request's verdict once."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.errors import NotFound
from api.fhir.negotiation import json_negotiated
from api.fhir.search import valid_id
from api.fhir.searching import (
    SearchInput,
    run_search,
    searched_by_form,
    searched_by_query,
    searched_type,
)
from api.fhir.serving import DiscoveryDocuments, FhirServices, FhirServing
from api.fhir.visibility import known_type, resource_verdict, served_body
from api.http.deps import CurrentPrincipal, audit, target
from api.http.outcomes import FhirResponse
from api.security.disclosure import Disclosure
from api.security.principal import Principal
from api.security.verdict import PUBLIC

router = APIRouter(prefix="/fhir")
ReadType = Annotated[str, Depends(known_type("read"))]
VreadType = Annotated[str, Depends(known_type("vread"))]
QuerySearch = Annotated[SearchInput, Depends(searched_by_query)]
SearchType = Annotated[str, Depends(searched_type)]
RETURNED = Disclosure(returned=1)
RETURNED_REDACTED = Disclosure(returned=1, redacted=1)
WITHHELD = Disclosure(withheld=1)


@router.get("/metadata", dependencies=[Depends(target("metadata")), Depends(json_negotiated)])
async def metadata(request: Request, documents: DiscoveryDocuments) -> Response:
    audit(request).conclude(PUBLIC)
    return FhirResponse(documents.capability_statement)


@router.get(
    "/.well-known/smart-configuration", dependencies=[Depends(target("smart-configuration"))]
)
async def smart_config(request: Request, documents: DiscoveryDocuments) -> Response:
    audit(request).conclude(PUBLIC)
    return Response(orjson.dumps(documents.smart_configuration), media_type="application/json")


@router.get("/{resource_type}/{resource_id}", dependencies=[Depends(json_negotiated)])
async def read(
    request: Request,
    resource_type: ReadType,
    resource_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
) -> Response:
    key = (resource_type, resource_id)
    return await fhir.call(_read, request, fhir, principal, key, "read", None)


@router.get(
    "/{resource_type}/{resource_id}/_history/{version_id}",
    dependencies=[Depends(json_negotiated)],
)
async def vread(
    request: Request,
    resource_type: VreadType,
    resource_id: str,
    version_id: str,
    principal: CurrentPrincipal,
    fhir: FhirServices,
) -> Response:
    """Only the current version is kept: an older version answers 404 like a missing one."""
    key = (resource_type, resource_id)
    return await fhir.call(_read, request, fhir, principal, key, "vread", version_id)


def _read(
    request: Request,
    fhir: FhirServing,
    principal: Principal,
    key: tuple[str, str],
    action: str,
    version: str | None,
) -> Response:
    """A resource the caller may not see answers exactly like a missing one (404), and its
    evidence says why (the resource's own verdict)."""
    (resource_type, resource_id), record = key, audit(request)
    plan = fhir.guard.authorize(principal, resource_type, action)
    record.granted(plan.verdict, plan.scopes_used)
    stored = fhir.data.read(resource_type, resource_id) if valid_id(resource_id) else None
    if stored is None:
        raise NotFound()
    record.subject(f"{resource_type}/{resource_id}", stored.patient_id)
    verdict = resource_verdict(fhir, plan, stored)
    if verdict.denies:
        raise NotFound(verdict=verdict, disclosed=WITHHELD)
    if version is not None and version != str(stored.version_id):
        raise NotFound()
    etag = f'W/"{stored.version_id}"'
    if _not_modified(request.headers.get("if-none-match"), stored.version_id):
        record.conclude(verdict)  # the caller holds this version already: nothing sent
        return Response(status_code=304, headers={"ETag": etag})
    served = served_body(fhir, principal, plan, stored)
    record.conclude(verdict, RETURNED_REDACTED if served.redacted else RETURNED)
    return FhirResponse(served.body, headers={"ETag": etag})


def _not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether `If-None-Match` names the stored version (weak comparison, as for ETags)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or f'"{version}"' in tags


@router.get("/{resource_type}", dependencies=[Depends(json_negotiated)])
async def search_get(
    request: Request, searched: QuerySearch, principal: CurrentPrincipal, fhir: FhirServices
) -> Response:
    return FhirResponse(await fhir.call(run_search, request, fhir, principal, searched))


@router.post("/{resource_type}/_search", dependencies=[Depends(json_negotiated)])
async def search_post(
    request: Request, resource_type: SearchType, principal: CurrentPrincipal, fhir: FhirServices
) -> Response:
    """The form body is read only now, after the token was accepted."""
    searched = await searched_by_form(request, resource_type)
    return FhirResponse(await fhir.call(run_search, request, fhir, principal, searched))
