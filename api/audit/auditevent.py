"""Evidence rows as FHIR R4 AuditEvent resources in the IHE BALP shape (pure).

One row is one request. A row that touched several patients becomes one AuditEvent per
patient (BALP PatientQuery), with ids "<event_id>.<n>"; any other row one AuditEvent with
the event id. Everything rendered comes from the row, which holds pseudonyms only: patients
and resources appear as keyed-hash identifiers, never as references to raw ids, the query
as its parameter names, the token by the hash of its jti, the client address as its
pseudonym (the client agent's `network.address`, no type: it is neither an IP address nor a
machine name). `meta.profile` names the BALP profiles the event follows (`balp_profiles`).

Outcome: 0 (success) unless denied or answered 4xx → 4 (minor failure: refused, invalid,
not found), 5xx → 8 (serious failure). Decision, reason codes, HTTP status, policy version,
scopes used and counts are carried in the `access-decision` extension; the seal (producer,
sequence, hashes) and the links to the request and its proof in `evidence-seal`.
"""

import base64
import re
from dataclasses import dataclass
from typing import Any

from api.audit import balp
from api.audit.balp_profiles import claimed_profiles
from api.audit.views import iso_from_us
from evidence.core.queries import outcome_code

MAX_DATA_ENTITIES = 100
_CODE_RE = re.compile(r"[^\s]+( [^\s]+)*")
_URI_RE = re.compile(r"\S+")
_NOT_FHIR_TEXT = re.compile(r"[^ \r\n\t\S]")  # whitespace a FHIR string may not hold
_REFERENCE_RE = re.compile(r"([^/]+/)*[A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Server:
    """Who observed and recorded the events: this server, named by its public base URL."""

    base_url: str

    @property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"


def event_parts(row: Row) -> list[tuple[str, str | None]]:
    """(AuditEvent id, patient pseudonym or None) of each AuditEvent the row becomes."""
    patients = list(row["patient_hashes"])
    if len(patients) <= 1:
        return [(str(row["event_id"]), patients[0] if patients else None)]
    return [(f"{row['event_id']}.{n}", p) for n, p in enumerate(patients, start=1)]


def _text(value: Any) -> str:
    """A FHIR string: token claims may hold any character; the few a FHIR string may not
    hold (form feed, vertical tab, ...) become U+FFFD."""
    return _NOT_FHIR_TEXT.sub("\ufffd", str(value))


def split_id(auditevent_id: str) -> tuple[str, int]:
    """ "<event_id>.<n>" → (event_id, n); a plain event id → (event_id, 0)."""
    event_id, dot, part = auditevent_id.rpartition(".")
    if dot and part.isdigit() and event_id:
        return event_id, int(part)
    return auditevent_id, 0


def auditevent(row: Row, server: Server, part: int = 0) -> dict[str, Any]:
    """The AuditEvent of the row; `part` (1-based) picks one patient of a multi-patient row."""
    patients = list(row["patient_hashes"])
    one_of_many = part > 0 and len(patients) > 1
    if one_of_many:
        patients = [patients[part - 1]]
    pattern = balp.pattern_for(str(row["action"]), str(row["method"]))
    body: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"{row['event_id']}.{part}" if one_of_many else str(row["event_id"]),
        "extension": [_decision(row), _seal(row, server)],
        "type": pattern.type,
        "subtype": _subtypes(pattern, str(row["action"])),
        "action": pattern.action,
        "recorded": iso_from_us(int(row["ts_us"])),
        "outcome": str(outcome_code(str(row["decision"]), int(row["status"]))),
        "outcomeDesc": _text(_outcome_text(row)),
        "purposeOfEvent": _purpose(row),
        "agent": _agents(row, pattern, server),
        "source": _source(server),
        "entity": _entities(row, patients, pattern, with_data=not one_of_many),
    }
    body = {name: value for name, value in body.items() if value not in ([], None, "")}
    if profiles := claimed_profiles(body):
        body["meta"] = {"profile": profiles}
    return body


def _subtypes(pattern: balp.Pattern, action: str) -> list[dict[str, Any]]:
    codes = [balp.coding(balp.RESTFUL, pattern.subtype, pattern.subtype)] if pattern.subtype else []
    if _CODE_RE.fullmatch(action):
        codes.append(balp.coding(balp.ACTION_SYSTEM, action))
    return codes


def _outcome_text(row: Row) -> str:
    reasons = ", ".join(row["reasons"]) or "no reason recorded"
    status, decision = int(row["status"]), str(row["decision"])
    if decision == "deny":
        return f"denied (HTTP {status}): {reasons}"
    if decision == "partial":
        withheld = int(row["count_withheld"])
        return f"partial (HTTP {status}): {withheld} withheld: {reasons}"
    return f"allowed (HTTP {status}): {reasons}"


def _purpose(row: Row) -> list[dict[str, Any]]:
    purpose = str(row["purpose_of_use"])
    return (
        [{"coding": [balp.coding(balp.ACT_REASON, purpose)]}] if _CODE_RE.fullmatch(purpose) else []
    )


def _decision(row: Row) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "decision", "valueCode": str(row["decision"])}]
    parts += [
        {"url": "reason", "valueCoding": balp.coding(balp.REASON_SYSTEM, r)}
        for r in row["reasons"]
        if _CODE_RE.fullmatch(r)
    ]
    parts.append({"url": "httpStatus", "valueInteger": int(row["status"])})
    if row["policy_version"]:
        parts.append({"url": "policyVersion", "valueString": _text(row["policy_version"])})
    parts += [{"url": "scopeUsed", "valueString": _text(s)} for s in row["scopes_used"] if s]
    for name, column in (("countReturned", "count_returned"), ("countWithheld", "count_withheld"),
                         ("countRedacted", "count_redacted")):  # fmt: skip
        parts.append({"url": name, **_count(int(row.get(column, 0)))})
    return {"url": balp.DECISION_EXTENSION, "extension": parts}


def _count(value: int) -> dict[str, int]:
    """unsignedInt stops at 2^31 - 1 in FHIR; a larger count stays exact as a decimal."""
    return {"valueUnsignedInt": value} if value < 2**31 else {"valueDecimal": value}


def _seal(row: Row, server: Server) -> dict[str, Any]:
    request = f"{server.base_url}/audit/requests/{row['request_id']}"
    values = [
        ("eventId", "valueString", str(row["event_id"])),
        ("producerId", "valueString", str(row["producer_id"])),
        ("sequence", "valueString", str(row["sequence"])),
        ("prevHash", "valueString", str(row["prev_hash"])),
        ("eventHash", "valueString", str(row["event_hash"])),
        ("keyVersion", "valueInteger", int(row["key_version"])),
        ("request", "valueUrl", request),
        ("proof", "valueUrl", f"{request}/proof"),
    ]
    parts = [
        {"url": url, kind: _text(value) if kind == "valueString" else value}
        for url, kind, value in values
        if value != ""
    ]
    return {"url": balp.EVIDENCE_EXTENSION, "extension": parts}


def _agents(row: Row, pattern: balp.Pattern, server: Server) -> list[dict[str, Any]]:
    client_role, server_role = balp.SOURCE_ROLE, balp.DESTINATION_ROLE
    if pattern.to_client:
        client_role, server_role = server_role, client_role
    agents = [_user(row, pattern)]
    network = _client_network(row)
    if row["client_id"] or network:  # the client app, named by its client_id when known
        who = (_identifier(str(row["issuer"]), str(row["client_id"])) if row["client_id"]
               else {"display": "client not identified"})  # fmt: skip
        roles = [client_role, balp.APPLICATION]
        agents.append({"type": {"coding": roles}, "who": who, "requestor": False,
                       **({"network": network} if network else {})})  # fmt: skip
    if row["action"] == "delete":  # BALP Delete: the server is the custodian
        server_role = balp.CUSTODIAN
    agents.append(
        {
            "type": {"coding": [server_role]},
            "who": {"identifier": {"value": server.fhir_base}, "display": "fhir-evidence"},
            "requestor": False,
            "network": {"address": server.fhir_base, "type": "5"},
        }
    )
    return agents


def _client_network(row: Row) -> dict[str, Any] | None:
    """Where the request came from, as its keyed pseudonym: in `network.address` without a
    `type` (type 1 would claim a machine name, 2 an IP address; a consumer parsing them would
    misread a hash), its system and key version in the `client-address-pseudonym` extension."""
    pseudonym = str(row.get("client_address_hash", ""))
    if not pseudonym:
        return None
    what = _pseudonym(balp.CLIENT_ADDRESS_PSEUDONYM, pseudonym, int(row["key_version"]))
    extension = {"url": balp.CLIENT_ADDRESS_EXTENSION, "valueIdentifier": what["identifier"]}
    return {"extension": [extension], "address": pseudonym}


def _identifier(system: str, value: str) -> dict[str, Any]:
    known = {"system": system} if _URI_RE.fullmatch(system) else {}
    return {"identifier": {**known, "value": _text(value)}}


def _user(row: Row, pattern: balp.Pattern) -> dict[str, Any]:
    """BALP user agent: the token's subject (who.identifier = issuer | sub), requestor, the
    token's jti (as its hash) in `policy` (BALP OAUTHaccessTokenUse)."""
    fhir_user = str(row["fhir_user"])
    roles = balp.user_roles(pattern.action, fhir_user)
    if row["token_alg"] or row["sub"] or row["token_jti_hash"]:  # a token was presented
        roles.append(balp.OAUTH_USER)
    sub = str(row["sub"])
    user: dict[str, Any] = {
        "type": {"coding": roles},
        "who": _identifier(str(row["issuer"]), sub) if sub else {"display": "unauthenticated"},
        "requestor": True,
    }
    if row["token_jti_hash"]:
        user["policy"] = [balp.jti_policy(str(row["token_jti_hash"]))]
    if _purpose(row):
        user["purposeOfUse"] = _purpose(row)
    other = _fhir_user_reference(fhir_user)
    if other:
        user["extension"] = [{"url": balp.FHIR_USER_EXTENSION, "valueReference": other}]
    return user


def _fhir_user_reference(fhir_user: str) -> dict[str, Any] | None:
    """The token's fhirUser: a reference, or for a patient user its pseudonym."""
    if not _REFERENCE_RE.fullmatch(fhir_user):
        return None
    prefix, _, pseudonym = fhir_user.rpartition("/")
    if prefix.rpartition("/")[2] == "Patient":
        return {"type": "Patient", **_identifier(balp.PATIENT_PSEUDONYM, pseudonym)}
    return {"reference": fhir_user}


def _source(server: Server) -> dict[str, Any]:
    return {
        "site": server.base_url,
        "observer": {"identifier": {"value": server.fhir_base}, "display": "fhir-evidence"},
        "type": [balp.APPLICATION_SERVER],
    }


def _entities(
    row: Row, patients: list[str], pattern: balp.Pattern, with_data: bool
) -> list[dict[str, Any]]:
    """BALP's request id, patient(s), data and query entities. A search's returned resources
    are typed Other: BALP Query records no results (its query is its one System Object), the
    evidence does (pseudonymous), beside it."""
    entities = [{"type": balp.TRANSACTION, "what": _identifier("", str(row["request_id"]))}]
    kv = int(row["key_version"])
    for patient in patients:
        what = {"type": "Patient", **_pseudonym(balp.PATIENT_PSEUDONYM, patient, kv)}
        entities.append({"type": balp.PERSON, "role": balp.PATIENT_ROLE, "what": what})
    kind = balp.OTHER_OBJECT if pattern.subtype.startswith("search") else balp.SYSTEM_OBJECT
    if with_data:
        for ref in list(row["resource_hashes"])[:MAX_DATA_ENTITIES]:
            what = {"type": ref.partition("/")[0], **_pseudonym(balp.RESOURCE_PSEUDONYM, ref, kv)}
            entities.append({"type": kind, "role": balp.DOMAIN_RESOURCE, "what": what})
    query = _query(row)
    if query:
        entities.append(query)
    if row["token_jti_hash"]:
        entities.append(_token(row))
    return entities


def _pseudonym(system: str, value: str, key_version: int) -> dict[str, Any]:
    kind = {"text": f"keyed pseudonym, key version {key_version}"}
    return {"identifier": {"type": kind, "system": system, "value": value}}


def _query(row: Row) -> dict[str, Any] | None:
    """BALP query entity: the search as recorded (parameter names only, values are never
    kept in evidence), base64 in `query` and readable in `description`."""
    names = [n for n in row["query_params"] if n]
    if row["action"] != "search" and not names:
        return None
    path = str(row["route"]).replace("{resource_type}", str(row["resource_type"]))
    text = f"{row['method']} {path}" + ("?" + "&".join(names) if names else "")
    return {
        "type": balp.SYSTEM_OBJECT,
        "role": balp.QUERY_ROLE,
        "query": base64.b64encode(text.encode()).decode(),
        "description": _text(f"{text} (parameter names only; values are not kept in evidence)"),
    }


def _token(row: Row) -> dict[str, Any]:
    """The access token's details, by the hash of its jti (the jti itself is not kept): an
    entity typed Other (BALP's UserOauthAgent is the user agent's type, not an entity's)."""
    details = [
        ("alg", row["token_alg"]),
        ("kid", row["token_kid"]),
        ("model", row["token_model"]),
        ("type", row.get("token_type", "")),
        ("idp_product", row.get("idp_product", "")),
        ("idp_version", row.get("idp_version", "")),
        ("scopes_granted", " ".join(row["scopes_granted"])),
    ]
    return {
        "type": balp.OTHER_OBJECT,
        "what": _identifier(balp.JTI_HASH, str(row["token_jti_hash"])),
        "description": "OAuth access token, identified by the SHA-256 of its jti",
        "detail": [{"type": k, "valueString": _text(v)} for k, v in details if str(v)],
    }
