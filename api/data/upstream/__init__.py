"""Gateway mode: the FHIR data port over an existing upstream FHIR server (narrowed queries,
every returned resource judged again, the upstream's failures and words kept inside)."""

from api.data.upstream.adapter import UpstreamFhir
from api.data.upstream.credentials import (
    ClientCredentials,
    Credentials,
    NoCredentials,
    StaticBearer,
)
from api.data.upstream.http import UpstreamConfig, UpstreamHttp

__all__ = [
    "ClientCredentials",
    "Credentials",
    "NoCredentials",
    "StaticBearer",
    "UpstreamConfig",
    "UpstreamFhir",
    "UpstreamHttp",
]
