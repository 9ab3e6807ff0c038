"""Streaming exports of auditor lists: `?_format=ndjson|csv` or `Accept: application/x-ndjson`
/ `text/csv`. Every matching row is streamed, page by page from the store, newest first.

The request's evidence is recorded when the response starts, so the number of rows must be
known then: the export reads a snapshot (rows stored up to the store's clock at the start),
counts it, and streams exactly that snapshot.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.audit.paging import answered
from api.audit.serving import Auditing
from api.audit.tabular import Column, csv_header, csv_rows, ndjson_rows
from api.errors import InvalidRequest
from evidence.core.queries import AccessFilter, EvidenceQueries, Position

EXPORT_PAGE = 1000
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_FORMAT_NAMES = {
    "json": "json",
    "application/json": "json",
    "ndjson": "ndjson",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/fhir+ndjson": "ndjson",
    "csv": "csv",
    "text/csv": "csv",
}


def negotiate(format_param: str | None, accept: str) -> str:
    """ "json", "ndjson" or "csv": `_format` wins over Accept; an unknown `_format` is 400."""
    if format_param:
        chosen = _FORMAT_NAMES.get(format_param.strip().lower())
        if chosen is None:
            raise InvalidRequest("_format must be json, ndjson or csv.")
        return chosen
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    for media, name in (("text/csv", "csv"), ("application/x-ndjson", "ndjson"),
                        ("application/ndjson", "ndjson")):  # fmt: skip
        if media in ranges:
            return name
    return "json"


def export_format(request: Request) -> str:
    return negotiate(request.query_params.get("_format"), request.headers.get("accept", ""))


async def stream_export(
    request: Request,
    auditing: Auditing,
    f: AccessFilter,
    fmt: str,
    view: Callable[[dict[str, Any]], dict[str, Any]],
    columns: tuple[Column, ...],
    filename: str,
) -> Response:
    queries = auditing.evidence
    snapshot = replace(f, stored_until_ms=await run_in_threadpool(queries.store_time_ms))
    total = await run_in_threadpool(queries.count_accesses, snapshot)
    answered(request, total)

    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield csv_header(columns).encode()
        sent, after = 0, None
        while sent < total:
            rows = await _page(queries, snapshot, min(EXPORT_PAGE, total - sent), after)
            if not rows:
                break
            views = [view(row) for row in rows]
            yield csv_rows(views, columns).encode() if fmt == "csv" else ndjson_rows(views)
            sent += len(rows)
            after = (int(rows[-1]["ts_us"]), str(rows[-1]["event_id"]))

    extension = "csv" if fmt == "csv" else "ndjson"
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{extension}"'}
    return StreamingResponse(body(), media_type=MEDIA_TYPES[fmt], headers=headers)


async def _page(
    queries: EvidenceQueries, f: AccessFilter, limit: int, after: Position | None
) -> list[dict[str, Any]]:
    return await run_in_threadpool(queries.find_accesses, f, limit, after)
