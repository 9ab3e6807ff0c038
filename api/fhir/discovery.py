"""CapabilityStatement and SMART configuration (no token needed)."""

from collections.abc import Mapping
from typing import Any

from api.data.indexing import SEARCH_PARAMS
from api.security.idp_metadata import IssuerMetadata
from api.settings import Settings

SOFTWARE_VERSION = "0.1.0"
SCOPES_SUPPORTED = [
    "export",
    "patient/*.rs",
    "user/*.rs",
    "system/*.rs",
    "patient/*.read",
    "user/*.read",
    "system/*.read",
    "user/*.cruds",
    "system/AuditEvent.rs",
    "user/AuditEvent.rs",
]
CAPABILITIES = [
    "permission-v1",
    "permission-v2",
    "permission-patient",
    "permission-user",
    "client-confidential-asymmetric",
]
# Only with an authorization endpoint (an app launch needs one): the user-facing flow.
LAUNCH_CAPABILITIES = ["launch-standalone", "context-standalone-patient", "sso-openid-connect"]
LAUNCH_SCOPES = ["openid", "fhirUser", "launch/patient"]
_BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"
EXPORT_OPERATIONS = {"Patient": f"{_BULK}/patient-export", "Group": f"{_BULK}/group-export"}
_KIND_TYPES = {
    "token": "token",
    "string": "string",
    "reference": "reference",
    "date": "date",
    "quantity": "quantity",
}


def smart_configuration(
    settings: Settings, discovered: IssuerMetadata | None = None
) -> dict[str, Any]:
    """`discovered`: the first trusted issuer's metadata when it was discovered; its
    endpoints are advertised (a configured FHIR_EVIDENCE_*_ENDPOINT still wins)."""
    issuer = (
        settings.dev_issuer_url
        if settings.dev_issuer_enabled
        else (settings.trusted_issuers[0].issuer)
    )
    config: dict[str, Any] = {
        "issuer": issuer,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "capabilities": list(CAPABILITIES),
    }
    uris = _oauth_uris(settings, discovered)
    if "token" in uris:
        config["token_endpoint"] = uris["token"]
    if "authorize" in uris and _pkce_s256(discovered):  # only capabilities the deployment has
        config["authorization_endpoint"] = uris["authorize"]
        config["grant_types_supported"].insert(0, "authorization_code")
        config["response_types_supported"] = ["code"]
        config["code_challenge_methods_supported"] = ["S256"]
        config["capabilities"].extend(LAUNCH_CAPABILITIES)
        config["scopes_supported"] = [*LAUNCH_SCOPES, *config["scopes_supported"]]
    if "introspect" in uris:
        config["introspection_endpoint"] = uris["introspect"]
    if "revoke" in uris:
        config["revocation_endpoint"] = uris["revoke"]
    if settings.dev_issuer_enabled:
        config["jwks_uri"] = f"{settings.dev_issuer_url}/jwks.json"
    elif settings.trusted_issuers[0].jwks_uri:
        config["jwks_uri"] = settings.trusted_issuers[0].jwks_uri
    elif discovered is not None:
        config["jwks_uri"] = discovered.jwks_uri
    return config


def _pkce_s256(discovered: IssuerMetadata | None) -> bool:
    """SMART asks for PKCE with S256: an IdP whose discovery lists other methods only
    cannot serve the app launch advertised here."""
    methods = discovered.code_challenge_methods if discovered is not None else None
    return methods is None or "S256" in methods


def _oauth_uris(settings: Settings, discovered: IssuerMetadata | None = None) -> dict[str, str]:
    found = discovered or IssuerMetadata("", "")
    uris = {
        "token": settings.token_endpoint or found.token_endpoint,
        "authorize": settings.authorization_endpoint or found.authorization_endpoint,
        "introspect": found.introspection_endpoint,
        "revoke": found.revocation_endpoint,
    }
    return {name: uri for name, uri in uris.items() if uri}


def _resource_entry(rtype: str) -> dict[str, Any]:
    params = [
        {"name": name, "type": _KIND_TYPES[param.kind]}
        for name, param in SEARCH_PARAMS[rtype].items()
    ]
    interactions = ["read", "vread", "search-type", "create", "update", "delete"]
    entry: dict[str, Any] = {
        "type": rtype,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned",
        "readHistory": False,
        "updateCreate": True,
        "searchParam": params,
    }
    if rtype in EXPORT_OPERATIONS:
        entry["operation"] = [{"name": "export", "definition": EXPORT_OPERATIONS[rtype]}]
    return entry


_BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
BALP_PROFILES = [
    f"{_BALP}{patient}{kind}"
    for kind in ("Read", "Query", "Create", "Update", "Delete")
    for patient in ("", "Patient")
] + [f"{_BALP}OAUTHaccessTokenUse.Minimal"]
AUDITEVENT_DOCUMENTATION = (
    "Access evidence as IHE BALP AuditEvents; read-only; needs an AuditEvent scope (a "
    "wildcard never covers it); `agent` is the principal's sub. meta.profile names the BALP "
    "profiles an event follows (successful read/vread, search, create, update, delete; the "
    "Patient variant when one patient is named; OAUTHaccessTokenUse.Minimal with a token). "
    "Where pseudonymisation departs from BALP: a patient is a Reference(Patient) by a "
    "keyed-hash identifier, never a literal reference, and so is every resource; the jti in "
    "agent.policy is urn:ietf:params:oauth:jti:sha256:<first 128 bits of the jti's SHA-256, "
    "hex> (the jti itself is not kept); the client's network.address is the keyed pseudonym "
    "of its IP address, with no type; the query entity holds parameter names only; a "
    "search's returned resources are entities typed Other beside BALP's query entity; the "
    "token's fhirUser is in the fhir-user extension, not ihe-otherId."
)


def _auditevent_entry(search_params: Mapping[str, str]) -> dict[str, Any]:
    """The read-only FHIR view of the evidence (IHE BALP), for explicit AuditEvent scopes."""
    return {
        "type": "AuditEvent",
        "profile": "http://hl7.org/fhir/StructureDefinition/AuditEvent",
        "supportedProfile": list(BALP_PROFILES),
        "documentation": AUDITEVENT_DOCUMENTATION,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "searchParam": [{"name": n, "type": t} for n, t in search_params.items()],
    }


def capability_statement(
    settings: Settings,
    software_version: str,
    auditevent_params: Mapping[str, str],
    discovered: IssuerMetadata | None = None,
) -> dict[str, Any]:
    """`auditevent_params`: the AuditEvent view's search parameters (name → type), which
    the auditor API defines."""
    security: dict[str, Any] = {
        "cors": False,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 bearer tokens using SMART App Launch scopes",
            }
        ],
        "description": "Every request needs a bearer access token except metadata and "
        "SMART discovery; every request is recorded as access evidence.",
    }
    uris = _oauth_uris(settings, discovered)
    if uris:
        security["extension"] = [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": uri} for name, uri in uris.items()],
            }
        ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-29",
        "kind": "instance",
        "software": {"name": "fhir-evidence", "version": software_version},
        "implementation": {"description": "fhir-evidence", "url": settings.fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": security,
                "resource": [
                    *(_resource_entry(rtype) for rtype in sorted(SEARCH_PARAMS)),
                    _auditevent_entry(auditevent_params),
                ],
            }
        ],
    }
