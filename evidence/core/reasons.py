"""Reason codes of the contract's audit evidence: stable strings, never renamed."""

from enum import StrEnum


class ReasonCode(StrEnum):
    TOKEN_MISSING = "token.missing"
    TOKEN_MALFORMED = "token.malformed"
    TOKEN_SIGNATURE_INVALID = "token.signature_invalid"
    TOKEN_ALG_NOT_ALLOWED = "token.alg_not_allowed"
    TOKEN_ISSUER_UNTRUSTED = "token.issuer_untrusted"
    TOKEN_AUDIENCE_MISMATCH = "token.audience_mismatch"
    TOKEN_EXPIRED = "token.expired"
    TOKEN_NOT_YET_VALID = "token.not_yet_valid"
    TOKEN_LIFETIME_TOO_LONG = "token.lifetime_too_long"
    SCOPE_GRANTED = "scope.granted"
    SCOPE_INSUFFICIENT = "scope.insufficient"
    COMPARTMENT_PATIENT = "compartment.patient"
    COMPARTMENT_OUTSIDE = "compartment.outside"
    CARETEAM_MEMBER = "careteam.member"
    CARETEAM_NOT_MEMBER = "careteam.not_member"
    BREAK_GLASS = "break_glass"
    LABEL_WITHHELD = "label.withheld"
    QUERY_INVALID = "query.invalid"
    CURSOR_INVALID = "cursor.invalid"
    EXPORT_NOT_PERMITTED = "export.not_permitted"
    RATE_LIMITED = "rate.limited"
    NOT_FOUND = "not_found"
    # Not in the contract's list but needed to describe what happened; additive only.
    SYSTEM_ACCESS = "system.access"
    DEPENDENCY_FAILED = "dependency.failed"
    REQUEST_TOO_LARGE = "request.too_large"
    METHOD_NOT_ALLOWED = "method.not_allowed"
    PUBLIC_ENDPOINT = "public.endpoint"
    EXPORT_STORAGE_MISSING = "export.no_shared_storage"
    VERSION_CONFLICT = "resource.version_conflict"
    INTERACTION_NOT_SUPPORTED = "interaction.not_supported"
    # A write that grants access (care teams, groups, labels, links) under break-glass alone.
    BREAK_GLASS_GRANT_REFUSED = "break_glass.grant_refused"
    # A principal listed itself (its fhirUser) as a member of an active CareTeam.
    CARETEAM_SELF_ADDED = "careteam.self_added"
    # A response that started without a recorded decision (a bug): recorded as a deny.
    DECISION_MISSING = "decision.missing"
    # A trusted identity provider (issue 21): introspection said the token is not active
    # (revoked, logged out, expired there); its introspection endpoint failed (down, slow,
    # malformed answer); its discovery document or keys are older than the stated bound.
    TOKEN_INACTIVE = "token.inactive"
    INTROSPECTION_FAILED = "introspection.failed"
    ISSUER_UNAVAILABLE = "issuer.unavailable"
    # Gateway mode: the upstream FHIR server could not be reached or failed (503), or did
    # not answer in time (504); the request fails closed.
    UPSTREAM_UNAVAILABLE = "upstream.unavailable"
    UPSTREAM_TIMEOUT = "upstream.timeout"
    # Gateway mode: the upstream refused a delete because other resources refer to the
    # resource (409); nothing was changed.
    RESOURCE_REFERENCED = "resource.referenced"
    # A search whose parameters named a patient outside the caller's reach (issue 16): the
    # answer left that patient out as always; the evidence names the patient (pseudonym).
    SEARCH_PATIENT_OUTSIDE_REACH = "search.patient_outside_reach"
