"""Which IHE BALP profiles a rendered AuditEvent follows (pure): read off the rendered body
itself, so that `meta.profile` never claims a shape the event does not have.

BALP's RESTful profiles record successes (outcome 0, by a known client on a known network
address, to this server); a failure, an event whose client or address is unknown (e.g.
recorded before the client address was), or one whose entities do not fit (a read split per
patient carries no data entity) claims none. The Patient variant is claimed when exactly one
patient entity is present (patients are keyed-hash identifiers: docs/auditor-api.md).
`OAUTHaccessTokenUse.Minimal` is claimed beside when the requestor is the token's user with
the jti in `agent.policy`.
"""

from typing import Any

from api.audit import balp

PROFILE_BASE = f"{balp.BALP_SD}/IHE.BasicAudit."
OAUTH_MINIMAL = f"{PROFILE_BASE}OAUTHaccessTokenUse.Minimal"
_REST_OBJECT_ROLES = frozenset({"3", "4", "20"})  # BALP RestObjectRoles: report, domain, job
Body = dict[str, Any]

# kind → (action, subtypes, client's type code, server's type code)
_KINDS: dict[str, tuple[str, frozenset[str], str, str]] = {
    "Read": ("R", frozenset({"read", "vread"}), "110152", "110153"),
    "Query": ("E", frozenset({"search", "search-type", "search-system"}), "110153", "110152"),
    "Create": ("C", frozenset({"create"}), "110153", "110152"),
    "Update": ("U", frozenset({"update", "patch"}), "110153", "110152"),
    "Delete": ("D", frozenset({"delete"}), "110150", "custodian"),
}


def claimed_profiles(body: Body) -> list[str]:
    rest = rest_profile(body)
    return [p for p in (rest, OAUTH_MINIMAL if follows_oauth_minimal(body) else "") if p]


def rest_profile(body: Body) -> str:
    """The BALP RESTful profile the event follows, "" for none."""
    kind = _kind(body)
    if not kind or body.get("outcome") != "0":
        return ""
    _action, _subtypes, client, server = _KINDS[kind]
    if not (_agent_with(body, client, network=True) and _agent_with(body, server, network=True)):
        return ""
    objects = [e for e in body.get("entity", []) if e.get("type") == balp.SYSTEM_OBJECT]
    if len(objects) != 1 or not _fits(kind, objects[0]):
        return ""
    patients = [e for e in body.get("entity", []) if e.get("role") == balp.PATIENT_ROLE]
    if len(patients) > 1:
        return ""
    return PROFILE_BASE + ("Patient" if patients else "") + kind


def follows_oauth_minimal(body: Body) -> bool:
    """The requestor is typed UserOauthAgent, has one policy (the jti) and no network."""
    return any(
        a.get("requestor") is True
        and "UserOauthAgent" in _codes(a)
        and len(a.get("policy", [])) == 1
        and "network" not in a
        for a in body.get("agent", [])
    )


def _kind(body: Body) -> str:
    if body.get("type", {}).get("code") != "rest":
        return ""
    subtypes = {c["code"] for c in body.get("subtype", []) if c.get("system") == balp.RESTFUL}
    for kind, (action, codes, _client, _server) in _KINDS.items():
        if body.get("action") == action and subtypes & codes:
            return kind
    return ""


def _agent_with(body: Body, code: str, network: bool) -> bool:
    return any(
        code in _codes(a) and "who" in a and (not network or "address" in a.get("network", {}))
        for a in body.get("agent", [])
    )


def _fits(kind: str, entity: Body) -> bool:
    role = entity.get("role", {}).get("code")
    if kind == "Query":
        return role == "24" and bool(entity.get("query")) and "what" not in entity
    return role in _REST_OBJECT_ROLES and "what" in entity


def _codes(agent: Body) -> set[str]:
    return {c.get("code", "") for c in agent.get("type", {}).get("coding", [])}
