"""The authenticated caller, as the policy sees it; what the evidence keeps of a refused token."""

from dataclasses import dataclass, field

from api.security.scopes import Scope


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    issuer: str
    client_id: str = ""
    scopes: tuple[Scope, ...] = ()
    scope_strings: tuple[str, ...] = ()  # as granted, ignored ones included
    has_export_scope: bool = False
    known_scopes: frozenset[str] = frozenset()  # non-resource scopes (export, demographics..)
    patient: str = ""  # launch context patient id for patient/ scopes
    fhir_user: str = ""  # e.g. "Practitioner/prac-0001"
    purpose_of_use: str = ""
    clearance: frozenset[str] = field(default_factory=frozenset)
    alg: str = ""
    kid: str = ""
    jti: str = ""
    expires_at: int = 0
    # How the token was checked: "jwt" (signature, locally) or "introspected" (RFC 7662);
    # the identity provider's product and version as configured ("" where not known).
    token_type: str = "jwt"  # noqa: S105 - a kind of token, not a secret
    idp_product: str = ""
    idp_version: str = ""

    @property
    def binding(self) -> str:
        """Who a paging cursor belongs to: the same subject of the same issuer and client."""
        return f"{self.issuer}\x1f{self.client_id}\x1f{self.sub}"

    @property
    def break_glass(self) -> bool:
        return self.purpose_of_use == "ETREAT"

    @property
    def token_model(self) -> str:
        versions = sorted({s.version for s in self.scopes})
        return "smart-" + "+".join(versions) if versions else "jwt"


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """alg, kid and jti of a refused token, read leniently for the evidence only (a token
    refused for its shape still leaves a trace); never trusted for anything else."""

    alg: str = ""
    kid: str = ""
    jti: str = ""
    token_type: str = ""  # "jwt", "introspected", or "" when not even that is known
