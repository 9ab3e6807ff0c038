"""Discovery of a trusted issuer's metadata over HTTP (the shell around
api.security.idp_metadata): the well-known locations in order; one that is absent (404,
410) passes to the next, any other failure or a refused document is DiscoveryFailed."""

import json

from api.access.idp_http import IdpUnreachable, get
from api.security.idp_metadata import (
    MAX_DOCUMENT_BYTES,
    IssuerMetadata,
    MetadataRefused,
    parse_discovery,
    well_known_urls,
)
from evidence.core import FhirEvidenceError

_ABSENT = frozenset({404, 410})


class DiscoveryFailed(FhirEvidenceError):
    def __init__(self, issuer: str, detail: str) -> None:
        super().__init__(f"discovery of {issuer} failed: {detail}", code="issuer.discovery")
        self.issuer = issuer


def discover(issuer: str) -> IssuerMetadata:
    """The issuer's metadata, from the first well-known document it serves."""
    for url in well_known_urls(issuer):
        try:
            answer = get(url, MAX_DOCUMENT_BYTES)
        except IdpUnreachable as exc:
            raise DiscoveryFailed(issuer, f"unreachable ({exc})") from None
        if answer.status in _ABSENT:
            continue
        if answer.status != 200 or not answer.json:
            raise DiscoveryFailed(issuer, f"HTTP {answer.status} at {url}")
        try:
            return parse_discovery(json.loads(answer.body), issuer)
        except (ValueError, UnicodeDecodeError, MetadataRefused) as exc:
            raise DiscoveryFailed(issuer, f"{exc} ({url})") from None
    raise DiscoveryFailed(issuer, "no discovery document at the well-known locations")


__all__ = ["DiscoveryFailed", "discover"]
