"""SMART App Launch scopes, v1 (`.read .write .*`) and v2 (`.cruds`), pure.

A scope is `<context>/<type>.<permissions>[?<param>=<value>&...]`, context one of
patient, user, system. Unknown or malformed scopes are ignored by the caller, never widened.
`*` as a resource type covers every type except AuditEvent.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

CONTEXTS = ("patient", "user", "system")
V2_ORDER = "cruds"
V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
NEVER_BY_WILDCARD = frozenset({"AuditEvent"})
EXPORT_SCOPE = "export"
NON_RESOURCE_SCOPES = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
        EXPORT_SCOPE,
        "demographics",
    }
)
INTERACTION_PERMISSION = {
    "read": "r",
    "vread": "r",
    "history": "r",
    "search": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "export": "r",
}
_SCOPE_RE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)(\?.*)?$")


@dataclass(frozen=True, slots=True)
class Scope:
    raw: str
    context: str
    resource_type: str
    permissions: frozenset[str]
    version: str  # "v1" or "v2"
    constraints: tuple[tuple[str, str], ...] = ()

    def covers_type(self, resource_type: str) -> bool:
        if self.resource_type == "*":
            return resource_type not in NEVER_BY_WILDCARD
        return self.resource_type == resource_type

    def permits(self, resource_type: str, interaction: str) -> bool:
        permission = INTERACTION_PERMISSION.get(interaction)
        return (
            permission is not None
            and permission in self.permissions
            and self.covers_type(resource_type)
        )


def _v2_permissions(text: str) -> frozenset[str] | None:
    """`cruds` letters, each at most once and in that order; None when malformed."""
    position = -1
    for letter in text:
        index = V2_ORDER.find(letter)
        if index <= position:
            return None
        position = index
    return frozenset(text) if text else None


def parse_scope(raw: str) -> Scope | None:
    match = _SCOPE_RE.fullmatch(raw)
    if match is None:
        return None
    context, rtype, perms, query = match.groups()
    constraints: tuple[tuple[str, str], ...] = ()
    if perms in V1_PERMISSIONS:
        if query:
            return None  # granular constraints exist only in v2
        return Scope(raw, context, rtype, V1_PERMISSIONS[perms], "v1")
    permissions = _v2_permissions(perms)
    if permissions is None:
        return None
    if query:
        constraints = tuple(parse_qsl(query[1:], keep_blank_values=False, strict_parsing=False))
        if not constraints:
            return None
    return Scope(raw, context, rtype, permissions, "v2", constraints)


def parse_scope_claim(claim: str) -> tuple[tuple[Scope, ...], tuple[str, ...], tuple[str, ...]]:
    """(resource scopes, other known scopes, ignored malformed or unknown scope strings)."""
    scopes: list[Scope] = []
    known: list[str] = []
    ignored: list[str] = []
    for raw in claim.split():
        parsed = parse_scope(raw)
        if parsed is not None:
            scopes.append(parsed)
        elif raw in NON_RESOURCE_SCOPES:
            known.append(raw)
        else:
            ignored.append(raw)
    return tuple(scopes), tuple(known), tuple(ignored)


def matching_scopes(
    scopes: tuple[Scope, ...], resource_type: str, interaction: str
) -> tuple[Scope, ...]:
    """The scopes that grant `interaction` on `resource_type` (empty: insufficient scope).
    Granular scopes are included: their constraints travel in the access plan."""
    return tuple(s for s in scopes if s.permits(resource_type, interaction))


def needed_scope(resource_type: str, interaction: str) -> str:
    """The v2 scopes (one per context) that would grant `interaction`, for error responses."""
    letter = INTERACTION_PERMISSION.get(interaction, "r")
    return " ".join(f"{context}/{resource_type}.{letter}" for context in CONTEXTS)
