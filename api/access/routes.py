"""`GET /dev-issuer/jwks.json`: the development issuer's public keys while it is on (404
otherwise); no token, recorded like every request."""

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.fhir.responses import outcome_response
from api.http.deps import DevIssuerIfOn, audit, target
from api.security.verdict import PUBLIC, deny
from evidence.core import ReasonCode

router = APIRouter(include_in_schema=False)
NOT_FOUND = deny(ReasonCode.NOT_FOUND)


@router.get("/dev-issuer/jwks.json", dependencies=[Depends(target("dev-issuer.jwks"))])
async def dev_jwks(request: Request, issuer: DevIssuerIfOn) -> Response:
    if issuer is None:
        audit(request).conclude(NOT_FOUND)
        return outcome_response(404, "not-found", "Resource not found.")
    audit(request).conclude(PUBLIC)
    return Response(orjson.dumps(issuer.jwks), media_type="application/json")
