"""Bulk Data `$export` (Bulk Data Access IG v2), the pure parts: kick-off headers and
parameters, who may export what, group membership, the job record and the manifest.

No clock, randomness or I/O here: ids and times are passed in.
"""

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from api.data.indexing import parse_fhir_date, walk
from api.errors import InvalidRequest
from api.security.access import COMPARTMENT_TYPES, AccessPlan, Constraint, plan_access
from api.security.principal import Principal

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
DEFAULT_OUTPUT_FORMAT = "application/fhir+ndjson"
KICK_OFF_PARAMS = frozenset({"_type", "_since", "_outputFormat"})
NEVER_EXPORTED = frozenset({"AuditEvent"})  # audit evidence has its own API
NOT_BY_DEFAULT = frozenset({"Group"})  # group definitions are not patient data
ACCEPTED_MEDIA = frozenset({"application/fhir+json", "application/json", "application/*", "*/*"})
IN_PROGRESS, COMPLETED, FAILED = "in-progress", "completed", "failed"
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class ExportParams:
    types: tuple[str, ...] = ()  # () = every type the token may export
    since: str = ""  # FHIR instant; "" = no lower bound
    output_format: str = DEFAULT_OUTPUT_FORMAT


def check_prefer(value: str) -> None:
    """The kick-off is asynchronous only: `Prefer: respond-async` is required."""
    tokens = {part.strip().lower() for part in re.split(r"[,;]", value)}
    if "respond-async" not in tokens:
        raise InvalidRequest("Bulk export needs the header 'Prefer: respond-async'.")


def check_accept(value: str) -> None:
    """Only FHIR JSON (for the OperationOutcome of the kick-off); absent counts as that."""
    if not value.strip():
        return
    ranges = {part.split(";")[0].strip().lower() for part in value.split(",")}
    if not ranges & ACCEPTED_MEDIA:
        raise InvalidRequest("Bulk export answers in 'application/fhir+json' only.")


def parse_export_params(params: Iterable[tuple[str, str]], known: Collection[str]) -> ExportParams:
    types: list[str] = []
    since, output_format = "", DEFAULT_OUTPUT_FORMAT
    seen: set[str] = set()
    for name, value in params:
        if name not in KICK_OFF_PARAMS:
            raise InvalidRequest("Unknown or unsupported bulk export parameter.")
        if name != "_type" and name in seen:
            raise InvalidRequest(f"Parameter '{name}' may be given once.")
        seen.add(name)
        if name == "_type":
            types.extend(t for t in _types(value, known) if t not in types)
        elif name == "_since":
            since = parse_since(value)
        else:
            output_format = _output_format(value)
    return ExportParams(tuple(types), since, output_format)


def _types(value: str, known: Collection[str]) -> list[str]:
    names = [t.strip() for t in value.split(",")]
    if not names or not all(names):
        raise InvalidRequest("_type must list resource types, separated by commas.")
    for name in names:
        if not _TYPE_RE.match(name) or name not in known or name in NEVER_EXPORTED:
            raise InvalidRequest("_type names an unknown or unsupported resource type.")
    return names


def parse_since(value: str) -> str:
    """A FHIR instant (a '+' decoded to a space by a careless client is put back)."""
    text = value.strip().replace(" ", "+")
    if not _INSTANT_RE.match(text):
        raise InvalidRequest("_since must be a FHIR instant, e.g. 2025-01-01T00:00:00Z.")
    try:
        parse_fhir_date(text)
    except (ValueError, IndexError):
        raise InvalidRequest("_since must be a FHIR instant.") from None
    return text


def _output_format(value: str) -> str:
    if value.strip() not in OUTPUT_FORMATS:
        raise InvalidRequest("_outputFormat must be application/fhir+ndjson.")
    return DEFAULT_OUTPUT_FORMAT


def candidate_types(known: Collection[str], group: bool) -> tuple[str, ...]:
    """What an export without `_type` covers (before authorization narrows it)."""
    types = set(known) - NEVER_EXPORTED - NOT_BY_DEFAULT
    if group:
        types &= COMPARTMENT_TYPES
    return tuple(sorted(types))


Constraints = tuple[Constraint, ...]  # granular-scope constraints of one type (any of them)


@dataclass(frozen=True, slots=True)
class ExportGrant:
    types: tuple[str, ...]  # what will be exported (empty when refused)
    refused: tuple[str, ...] = ()  # types, "*" (any) or "export" the token lacks
    hidden_labels: frozenset[str] = frozenset()
    scopes_used: tuple[str, ...] = ()
    constraints: dict[str, Constraints] = field(default_factory=dict)  # by type, when granular

    @property
    def granted(self) -> bool:
        return bool(self.types) and not self.refused

    def required_scope(self) -> str:
        return " ".join(["export", *(f"system/{t}.rs" for t in self.refused if t != "export")])


def authorize_export(
    principal: Principal, requested: Sequence[str], candidates: Sequence[str], group: bool
) -> ExportGrant:
    """`export` plus a system/ read scope for every exported type (and Group for a group
    export). Without `_type`, the export narrows to the candidate types the token may read."""
    if not principal.has_export_scope:
        return ExportGrant((), ("export",))
    must = [*requested, *(["Group"] if group else [])]
    plans = {t: plan_access(principal, t, "search") for t in (*must, *candidates)}
    readable = {t for t, plan in plans.items() if _system_read(principal, plan)}
    refused = [t for t in must if t not in readable]
    types = tuple(requested) or tuple(t for t in candidates if t in readable)
    if refused or not types:
        return ExportGrant((), tuple(refused or ["*"]))
    chosen = {t: plans[t] for t in (*types, *must)}
    used = dict.fromkeys(["export", *(s for plan in chosen.values() for s in plan.scopes_used)])
    constraints = {t: plan.constraints for t, plan in chosen.items() if plan.constraints}
    hidden = plans[types[0]].hidden_labels
    return ExportGrant(types, (), hidden, tuple(used), constraints)


def _system_read(principal: Principal, plan: AccessPlan) -> bool:
    """Granted through system/ scopes (a user/ or patient/ scope never exports)."""
    system = {s.raw for s in principal.scopes if s.context == "system"}
    return plan.granted and bool(plan.scopes_used) and set(plan.scopes_used) <= system


def group_members(group: dict[str, Any]) -> tuple[str, ...]:
    """Ids of the active Patient members of a Group resource."""
    members: set[str] = set()
    for member in walk(group, ["member"]):
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        entity = member.get("entity")
        reference = entity.get("reference") if isinstance(entity, dict) else None
        rtype, _, rid = str(reference or "").partition("/")
        if rtype == "Patient" and _ID_RE.match(rid):
            members.add(rid)
    return tuple(sorted(members))


@dataclass(frozen=True, slots=True)
class OutputFile:
    type: str
    count: int
    withheld: int = 0


@dataclass(frozen=True, slots=True)
class ExportJob:
    """What a job needs to run (again, after a restart) and to answer polls; kept in job.json."""

    id: str
    owner_sub: str
    owner_issuer: str
    request_url: str
    transaction_time: str
    types: tuple[str, ...]
    hidden_labels: tuple[str, ...]
    created_at: float
    since: str = ""
    group_id: str = ""
    patient_ids: tuple[str, ...] | None = None  # a group's members; None = every patient
    constraints: dict[str, Constraints] = field(default_factory=dict)
    redactions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # type -> elements
    status: str = IN_PROGRESS
    outputs: tuple[OutputFile, ...] = ()
    attempts: int = 0
    finished_at: float = 0.0
    # The client (token `client_id`) that started it; None in a job.json written before it
    # was recorded: such a job is served to nobody (fail closed; its owner starts again).
    owner_client: str | None = None

    def owned_by(self, principal: Principal) -> bool:
        """The same subject of the same issuer, through the same client."""
        return self.owner_client is not None and (
            self.owner_sub,
            self.owner_issuer,
            self.owner_client,
        ) == (principal.sub, principal.issuer, principal.client_id)

    def output(self, resource_type: str) -> OutputFile | None:
        return next((o for o in self.outputs if o.type == resource_type and o.count), None)

    def finished(self, status: str, now: float, outputs: Sequence[OutputFile] = ()) -> "ExportJob":
        return replace(self, status=status, outputs=tuple(outputs), finished_at=now)

    def as_dict(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.__dataclass_fields__}
        body["outputs"] = [
            {"type": o.type, "count": o.count, "withheld": o.withheld} for o in self.outputs
        ]
        return body


def job_from_dict(body: dict[str, Any]) -> ExportJob:
    """The inverse of ExportJob.as_dict; KeyError/TypeError/ValueError when malformed."""
    patients = body.get("patient_ids")
    return ExportJob(
        id=str(body["id"]),
        owner_sub=str(body["owner_sub"]),
        owner_issuer=str(body["owner_issuer"]),
        request_url=str(body["request_url"]),
        transaction_time=str(body["transaction_time"]),
        types=tuple(str(t) for t in body["types"]),
        hidden_labels=tuple(str(label) for label in body["hidden_labels"]),
        created_at=float(body["created_at"]),
        since=str(body.get("since", "")),
        group_id=str(body.get("group_id", "")),
        patient_ids=None if patients is None else tuple(str(p) for p in patients),
        constraints=_constraints(body.get("constraints", {})),
        redactions={
            str(t): tuple(str(f) for f in fields)
            for t, fields in body.get("redactions", {}).items()
        },
        status=str(body.get("status", IN_PROGRESS)),
        outputs=tuple(
            OutputFile(str(o["type"]), int(o["count"]), int(o.get("withheld", 0)))
            for o in body.get("outputs", [])
        ),
        attempts=int(body.get("attempts", 0)),
        finished_at=float(body.get("finished_at", 0.0)),
        owner_client=None if body.get("owner_client") is None else str(body["owner_client"]),
    )


def _constraints(body: dict[str, Any]) -> dict[str, Constraints]:
    return {
        str(rtype): tuple(tuple((str(k), str(v)) for k, v in pairs) for pairs in alternatives)
        for rtype, alternatives in body.items()
    }


def file_url(fhir_base: str, job_id: str, resource_type: str) -> str:
    return f"{fhir_base}/$export-file/{job_id}/{resource_type}.ndjson"


def status_url(fhir_base: str, job_id: str) -> str:
    return f"{fhir_base}/$export-status/{job_id}"


def manifest(job: ExportJob, fhir_base: str) -> dict[str, Any]:
    """The completion manifest; types without resources are left out of `output`."""
    return {
        "transactionTime": job.transaction_time,
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": o.type, "url": file_url(fhir_base, job.id, o.type), "count": o.count}
            for o in job.outputs
            if o.count
        ],
        "error": [],
    }


def totals(job: ExportJob) -> tuple[int, int]:
    """(resources written, resources withheld by their security labels)."""
    return sum(o.count for o in job.outputs), sum(o.withheld for o in job.outputs)
