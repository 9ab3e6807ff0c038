"""The development issuer's routes and dependency: `GET /dev-issuer/jwks.json` answers its
public keys while it is on (404 otherwise), with no token, recorded like every request; the
console's demo login asks for it too (`DevIssuerIfOn`)."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.access.devissuer import DevIssuer
from api.http.deps import audit, optional, target
from api.http.outcomes import outcome_response
from api.security.verdict import PUBLIC, deny
from evidence.core import ReasonCode

router = APIRouter(include_in_schema=False)
DevIssuerIfOn = Annotated[DevIssuer | None, Depends(optional(DevIssuer))]
NOT_FOUND = deny(ReasonCode.NOT_FOUND)


@router.get("/dev-issuer/jwks.json", dependencies=[Depends(target("dev-issuer.jwks"))])
async def dev_jwks(request: Request, issuer: DevIssuerIfOn) -> Response:
    if issuer is None:
        audit(request).conclude(NOT_FOUND)
        return outcome_response(404, "not-found", "Resource not found.")
    audit(request).conclude(PUBLIC)
    return Response(orjson.dumps(issuer.jwks), media_type="application/json")
