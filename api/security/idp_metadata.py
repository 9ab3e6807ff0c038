"""An identity provider's discovery document (OpenID Connect Discovery 1.0, RFC 8414), read
strictly (pure): the document must name exactly the configured issuer, and every endpoint
it gives must be an absolute URL of the issuer's scheme or https. One bad member refuses
the whole document: nothing of it is trusted partially.

Also the freshness rules of an issuer's metadata and keys: when to re-read them, and how
long the last good copy may serve while re-reading fails.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from evidence.core import FhirEvidenceError

MAX_DOCUMENT_BYTES = 256 * 1024
_ENDPOINTS = (
    "token_endpoint",
    "authorization_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
)


class MetadataRefused(FhirEvidenceError):
    """A discovery document that cannot be trusted (as a whole)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="issuer.metadata_refused")


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    issuer: str
    jwks_uri: str
    token_endpoint: str | None = None
    authorization_endpoint: str | None = None
    introspection_endpoint: str | None = None
    revocation_endpoint: str | None = None
    code_challenge_methods: tuple[str, ...] | None = None  # None: the document is silent


def well_known_urls(issuer: str) -> tuple[str, ...]:
    """Where an issuer's metadata may be, in the order they are tried: OpenID Connect's
    `{issuer}/.well-known/openid-configuration`, then RFC 8414's
    `oauth-authorization-server` (inserted before the issuer's path, and appended as some
    providers serve it)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    root = f"{parts.scheme}://{parts.netloc}"
    urls = [
        f"{root}{path}/.well-known/openid-configuration",
        f"{root}/.well-known/oauth-authorization-server{path}",
        f"{root}{path}/.well-known/oauth-authorization-server",
    ]
    return tuple(dict.fromkeys(urls))


def parse_discovery(document: Any, expected_issuer: str) -> IssuerMetadata:
    """The metadata of `expected_issuer`, or MetadataRefused."""
    if not isinstance(document, Mapping):
        raise MetadataRefused("the discovery document is not a JSON object")
    if document.get("issuer") != expected_issuer:
        raise MetadataRefused("the discovery document names another issuer")
    scheme = urlsplit(expected_issuer).scheme
    jwks_uri = _endpoint(document, "jwks_uri", scheme)
    if jwks_uri is None:
        raise MetadataRefused("the discovery document has no jwks_uri")
    endpoints = {name: _endpoint(document, name, scheme) for name in _ENDPOINTS}
    return IssuerMetadata(
        issuer=expected_issuer,
        jwks_uri=jwks_uri,
        code_challenge_methods=_methods(document),
        **endpoints,
    )


def _endpoint(document: Mapping[str, Any], name: str, issuer_scheme: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048 or not value.isprintable():
        raise MetadataRefused(f"{name} is not a URL")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise MetadataRefused(f"{name} is not a URL") from exc
    if parts.scheme not in {"https", issuer_scheme} or parts.scheme not in {"https", "http"}:
        raise MetadataRefused(f"{name} is not an http(s) URL of the issuer's scheme")
    if not parts.hostname or parts.username or parts.password or parts.fragment or not port_ok:
        raise MetadataRefused(f"{name} is not a plain absolute URL")
    if any(c.isspace() for c in value):
        raise MetadataRefused(f"{name} is not a URL")
    return value


def _methods(document: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = document.get("code_challenge_methods_supported")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise MetadataRefused("code_challenge_methods_supported is not a list of names")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Freshness:
    """How often something an issuer publishes is re-read, and for how long its last good
    copy may serve while re-reading fails (then the issuer's tokens are refused)."""

    refresh_s: float
    max_stale_s: float
    retry_s: float = 30.0  # after a failed re-read


def refresh_due(fresh: Freshness, last_good: float, last_attempt: float, now: float) -> bool:
    """Time to re-read: the copy is older than `refresh_s`, and after a failure the retry
    pause has passed (an outage does not turn every request into a fetch)."""
    if now - last_good < fresh.refresh_s:
        return False
    failed_since = last_attempt > last_good
    return not failed_since or now - last_attempt >= min(fresh.retry_s, fresh.refresh_s)


def still_usable(fresh: Freshness, last_good: float, now: float) -> bool:
    """The last good copy may serve: it is at most `max_stale_s` old."""
    return now - last_good <= fresh.max_stale_s


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Freshness",
    "IssuerMetadata",
    "MetadataRefused",
    "parse_discovery",
    "refresh_due",
    "still_usable",
    "well_known_urls",
]
