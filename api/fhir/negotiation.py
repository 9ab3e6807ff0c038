"""Content negotiation of the FHIR routes (pure): this server answers FHIR JSON only, so a
request whose `_format` or `Accept` asks for anything else gets 406, never JSON it did not
ask for (FHIR R4 http.html#mime-type)."""

from fastapi import Request

from api.errors import NotAcceptable

JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
_JSON_RANGES = JSON_FORMATS - {"json"} | {"*/*", "application/*"}


def serves_json(accept: str, format_param: str | None) -> bool:
    """Whether FHIR JSON satisfies `_format` (it wins over Accept) or else the Accept header
    (absent or empty: anything goes; a range with q=0 refuses that range)."""
    if format_param is not None:
        return format_param.strip().lower() in JSON_FORMATS
    if not accept.strip():
        return True
    for part in accept.split(","):
        media, *params = (item.strip().lower() for item in part.split(";"))
        refused = any(p.replace(" ", "") in {"q=0", "q=0.0", "q=0.00", "q=0.000"} for p in params)
        if media in _JSON_RANGES and not refused:
            return True
    return False


async def json_negotiated(request: Request) -> None:
    """Route dependency: 406 unless FHIR JSON is acceptable to the caller."""
    if not serves_json(request.headers.get("accept", ""), request.query_params.get("_format")):
        raise NotAcceptable()
