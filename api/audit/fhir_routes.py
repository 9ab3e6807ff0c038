"""The FHIR AuditEvent view of the evidence (the contract's auditor API): search (GET and
POST _search) and read, read-only, for holders of an explicit AuditEvent scope. Each of
these requests is recorded like any other (action search/read, resource type AuditEvent)."""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit.access import auditor_of
from api.audit.auditevent import Server, auditevent, split_id
from api.audit.auditevent_search import (
    AuditEventSearch,
    Resume,
    decode_resume,
    encode_resume,
    page_parts,
    parse_auditevent_search,
)
from api.audit.filters import filter_key
from api.audit.own_view import own_patient_details
from api.audit.serving import Auditing, AuditServices
from api.errors import Forbidden, InvalidRequest, MethodNotAllowed, NotFound, Unauthorized
from api.fhir.responses import searchset
from api.fhir.search import valid_id
from api.http.deps import Authorization, CurrentPrincipal, audit, authorized, target
from api.http.outcomes import FhirResponse
from api.security.access import AccessPlan
from api.security.audit_reach import Confined, audit_reach, row_within
from api.security.cursor import CursorInvalid, decode_cursor, encode_cursor
from api.security.disclosure import Disclosure
from api.security.principal import Principal
from api.security.verdict import ALLOWED, deny
from evidence.core import ReasonCode
from evidence.core.queries import AccessFilter

router = APIRouter(prefix="/fhir")
OUTSIDE = deny(ReasonCode.COMPARTMENT_OUTSIDE)
RETURNED = Disclosure(returned=1)
_authorize_read = authorized("AuditEvent", "read")


@dataclass(frozen=True, slots=True)
class AuditEventQuery:
    params: list[tuple[str, str]]


async def _asked_by_query(request: Request) -> AuditEventQuery:
    """A dependency: what a GET search asks (recorded before the token is checked)."""
    audit(request).target("search", "AuditEvent")
    params = list(request.query_params.multi_items())
    audit(request).asked(name for name, _ in params)
    return AuditEventQuery(params)


async def _searched(request: Request) -> None:
    """A dependency: a POST _search (recorded before the token is checked)."""
    audit(request).target("search", "AuditEvent")
    audit(request).asked(request.query_params.keys())


async def _asked_by_form(request: Request) -> AuditEventQuery:
    """What a POST _search asks, read once the caller is authenticated (no body of an
    unauthenticated caller is ever read); a token in the body is refused."""
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    if any(name == "access_token" for name, _ in params):  # RFC 6750 body tokens: refused
        raise Unauthorized(ReasonCode.TOKEN_MALFORMED)
    params += list(request.query_params.multi_items())
    audit(request).asked(name for name, _ in params)
    return AuditEventQuery(params)


def _confine(principal: Principal, plan: AccessPlan, query: AuditEventSearch) -> Confined:
    """The patient and agent searched for, within the token's AuditEvent scopes (every
    constraint and the user context enforced: `api.security.audit_reach`); a token confined
    to one patient may name no other entity than that patient (an entity filter would tell
    which other resources the same requests touched)."""
    auditor = auditor_of(Authorization(principal, plan))
    confined = auditor.confined(query.patient, query.agent)
    if confined.own_patient and query.entity not in ("", f"Patient/{confined.own_patient}"):
        raise Forbidden(
            "A token confined to one patient's evidence may filter by that patient only.",
            reason=ReasonCode.COMPARTMENT_OUTSIDE,
        )
    return confined


def _resume(auditing: Auditing, principal: Principal, key: str, cursor: str) -> Resume | None:
    if not cursor:
        return None
    try:
        now = int(auditing.clock())
        position = decode_cursor(auditing.cursor_key, cursor, principal.binding, key, now)
        return decode_resume(str(position))
    except (CursorInvalid, ValueError):
        raise InvalidRequest(
            "The paging cursor is invalid or expired.", reason=ReasonCode.CURSOR_INVALID
        ) from None


@router.get("/AuditEvent")
async def search_get(
    request: Request,
    asked: Annotated[AuditEventQuery, Depends(_asked_by_query)],
    principal: CurrentPrincipal,
    auditing: AuditServices,
) -> Response:
    return await _search(request, auditing, principal, asked.params)


@router.post("/AuditEvent/_search", dependencies=[Depends(_searched)])
async def search_post(
    request: Request, principal: CurrentPrincipal, auditing: AuditServices
) -> Response:
    asked = await _asked_by_form(request)
    return await _search(request, auditing, principal, asked.params)


async def _search(
    request: Request, auditing: Auditing, principal: Principal, params: list[tuple[str, str]]
) -> Response:
    query = parse_auditevent_search(params)
    plan = auditing.guard.authorize(principal, "AuditEvent", "search")
    audit(request).granted(plan.verdict, plan.scopes_used)
    confined = _confine(principal, plan, query)
    if confined.patient:
        audit(request).subject(patient_id=confined.patient)
    pseudonyms = auditing.pseudonymizer
    patient_hash = pseudonyms.patient(confined.patient) if confined.patient else ""
    f = AccessFilter(
        since_us=query.since_us,
        until_us=query.until_us,
        patient_hash=patient_hash,
        sub=confined.agent,
        entity=pseudonyms.reference(query.entity) if query.entity else "",
        outcomes=query.outcomes,
    )
    key = filter_key("fhir-auditevent", f)
    resume = _resume(auditing, principal, key, query.cursor)
    fetched = query.count + 1 if query.count else 0
    after = (resume[0], resume[1]) if resume else None
    rows = await run_in_threadpool(auditing.evidence.find_accesses, f, fetched, after, True)
    page, following = page_parts(rows, query.count, resume[2] if resume else 0, fetched,
                                 patient_hash)  # fmt: skip
    server = Server(auditing.base_url)
    own = pseudonyms.patient(confined.own_patient) if confined.own_patient else ""
    entries = [auditevent(_seen(row, own), server, part) for row, part in page]
    audit(request).conclude(ALLOWED, Disclosure(returned=len(entries)))
    base = auditing.fhir_base
    self_url = f"{base}/AuditEvent" + (f"?{urlencode(query.kept)}" if query.kept else "")
    next_url = None
    if following is not None:
        cursor = encode_cursor(auditing.cursor_key, principal.binding, key,
                               encode_resume(following), int(auditing.clock()))  # fmt: skip
        next_url = f"{base}/AuditEvent?{urlencode([*query.kept, ('_cursor', cursor)])}"
    matches = [("AuditEvent", e["id"], e, "match") for e in entries]
    return FhirResponse(searchset(matches, None, self_url, next_url, base))


@router.get("/AuditEvent/{auditevent_id}", dependencies=[Depends(target("read", "AuditEvent"))])
async def read(
    request: Request,
    auditevent_id: str,
    authorization: Annotated[Authorization, Depends(_authorize_read)],
    auditing: AuditServices,
) -> Response:
    principal, plan = authorization.principal, authorization.plan
    if not valid_id(auditevent_id):
        raise NotFound()
    audit(request).subject(f"AuditEvent/{auditevent_id}")
    event_id, part = split_id(auditevent_id)
    row = await run_in_threadpool(auditing.evidence.access_event, event_id)
    patients = list(row["patient_hashes"]) if row else []
    if row is None or not (part == 0 if len(patients) <= 1 else 1 <= part <= len(patients)):
        raise NotFound()
    shown = patients[part - 1 : part] if part else patients
    pseudonym = auditing.pseudonymizer.patient
    reach = audit_reach(principal, plan.scopes_used)
    within = row_within(reach, shown, str(row["sub"]), pseudonym)
    if within is None:
        raise NotFound(verdict=OUTSIDE)  # beyond the token's reach: answers like a missing one
    audit(request).conclude(ALLOWED, RETURNED)
    own = pseudonym(within.patient) if within.patient else ""
    return FhirResponse(auditevent(_seen(row, own), Server(auditing.base_url), part))


def _seen(row: dict[str, Any], own: str) -> dict[str, Any]:
    """The row as a token confined to the patient `own` ("" for none) may see it: its part
    of a multi-patient row shows that patient alone already, and no resources."""
    return own_patient_details(row, own) if own else row


async def read_only(request: Request) -> Response:
    """Audit evidence is never written through the FHIR API."""
    action = {"POST": "create", "DELETE": "delete"}.get(request.method, "update")
    audit(request).target(action, "AuditEvent")
    raise MethodNotAllowed("AuditEvent is read-only.")


for _path in ("/AuditEvent", "/AuditEvent/{auditevent_id}"):
    for _method in ("POST", "PUT", "PATCH", "DELETE"):  # one route each: one operation id each
        router.add_api_route(_path, read_only, methods=[_method], name=f"read_only_{_method}")
