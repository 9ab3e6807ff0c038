"""Settings from the environment (FHIR_EVIDENCE_*); built only in composition roots."""

import ipaddress
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WORKERS_MIN, WORKERS_MAX = 1, 64  # `serve --workers N`


class TrustedIssuer(BaseModel):
    """One trusted identity provider. Given by its issuer URL alone (neither `jwks_uri` nor
    `jwks_file`), the rest is read from its discovery document (api.access.discovery)."""

    issuer: str
    audience: str | None = None  # default: <base_url>/fhir
    jwks_uri: str | None = None
    jwks_file: Path | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    # Read {issuer}/.well-known/openid-configuration (or oauth-authorization-server): by
    # default exactly when no JWKS source is given. Needs a reachable IdP at start-up.
    discovery: bool | None = None
    # The identity provider's product and version, recorded in evidence as configured:
    # discovery documents do not carry them, and they are never guessed.
    idp_product: str | None = Field(default=None, max_length=64)
    idp_version: str | None = Field(default=None, max_length=64)
    # RFC 7662: "opaque" introspects tokens that are not JWTs, "all" every token of this
    # issuer (revocation takes effect within FHIR_EVIDENCE_INTROSPECTION_CACHE_S).
    introspection: Literal["off", "opaque", "all"] = "off"
    introspection_endpoint: str | None = None  # default: the discovered one
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> "TrustedIssuer":
        if self.jwks_uri and self.jwks_file:
            raise ValueError("a trusted issuer takes at most one of jwks_uri or jwks_file")
        if not self.uses_discovery and not (self.jwks_uri or self.jwks_file):
            raise ValueError("a trusted issuer without discovery needs jwks_uri or jwks_file")
        if self.introspection != "off":
            if not (self.introspection_client_id and self.introspection_client_secret):
                raise ValueError("introspection needs introspection_client_id and _secret")
            if not (self.introspection_endpoint or self.uses_discovery):
                raise ValueError("introspection needs an endpoint: configured or discovered")
        return self

    @property
    def uses_discovery(self) -> bool:
        if self.discovery is not None:
            return self.discovery
        return not (self.jwks_uri or self.jwks_file)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_EVIDENCE_", extra="ignore")

    data_dir: Path = Path("./.fhir-evidence")
    base_url: str = "http://127.0.0.1:8080"
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)
    max_token_lifetime_s: int = 3600
    # Trusted issuers' keys are re-read this often (a key removed from a JWKS stops
    # verifying within it, cached tokens included), discovery documents every
    # ..._discovery_refresh_s; when re-reading fails the last good ones serve at most
    # issuer_max_stale_s, then the issuer's tokens are refused (503).
    jwks_refresh_s: float = Field(default=300.0, gt=0)
    discovery_refresh_s: float = Field(default=3600.0, gt=0)
    issuer_max_stale_s: float = Field(default=86400.0, gt=0)
    # An active introspection answer is believed at most this long (and never past exp).
    introspection_cache_s: float = Field(default=60.0, ge=0, le=3600)
    kafka_bootstrap: str | None = None
    kafka_partitions: int = Field(default=6, ge=1, le=1024)
    kafka_topic_prefix: str = ""
    kafka_group: str = "fhir-evidence"  # the workers' consumer group
    # Prometheus /metrics of `fhir-evidence worker` processes (0 = off; `serve` answers
    # GET /metrics on its own port instead); consumer lag is read every ..._interval_s.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    worker_metrics_interval_s: float = Field(default=5.0, gt=0)
    # pipeline_stalled: outbox or consumer lag above zero and not falling for this long.
    pipeline_stall_s: float = Field(default=120.0, gt=0)
    # `serve --workers N`: API processes sharing the port (api.boot.processes); unset: one
    # per core this process may run on (api.boot.workers).
    workers: int | None = Field(default=None, ge=WORKERS_MIN, le=WORKERS_MAX)
    clickhouse_url: str | None = None
    hash_key: str | None = None
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None
    # postgresql://user:pass@host:5432/db: the FHIR data in PostgreSQL, shared by replicas.
    fhir_store_url: str | None = None
    # Gateway mode: guard this existing FHIR server (https://fhir.example/fhir) instead of
    # storing the data (exclusive with fhir_store_url). Its credentials: upstream_auth
    # "none", "bearer" (upstream_bearer_token) or "client_credentials" (upstream_token_url,
    # upstream_client_id, and upstream_client_secret or upstream_private_key_file: a PEM key
    # for private_key_jwt). Timeouts and the connection pool are bounded.
    upstream_fhir_url: str | None = None
    upstream_auth: str = "none"
    upstream_bearer_token: SecretStr | None = None
    upstream_token_url: str | None = None
    upstream_client_id: str | None = None
    upstream_client_secret: SecretStr | None = None
    upstream_private_key_file: Path | None = None
    upstream_private_key_alg: str = "RS384"
    upstream_key_id: str | None = None
    upstream_scope: str = ""
    upstream_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    upstream_timeout_s: float = Field(default=10.0, gt=0, le=300)
    upstream_pool_size: int = Field(default=20, ge=1, le=1000)
    # Beyond the contract's table:
    # Bulk export jobs and files: default <data_dir>/exports. With the FHIR data in
    # PostgreSQL, set it to storage every replica mounts (exports are refused otherwise).
    export_dir: Path | None = None
    max_body_bytes: int = 1_048_576
    token_leeway_s: int = 30
    # Evidence retention (TTL of the evidence tables): unset = six years.
    retention_days: int | None = Field(default=None, ge=1)
    # Signed Merkle checkpoints of the evidence (see evidence.store.seal.checkpointer).
    checkpoint_interval_s: float = Field(default=10.0, gt=0)
    heartbeat_s: float = Field(default=60.0, gt=0)
    signing_key_file: Path | None = None  # default: <data_dir>/keys/checkpoint-signing-key.pem
    log_level: str = "INFO"
    # Elements withheld per type unless the token holds `demographics` (JSON to override).
    redactions: dict[str, list[str]] = Field(
        default_factory=lambda: {"Patient": ["address", "telecom", "photo", "contact"]}
    )
    # Detection rule overrides, e.g. {"denied_burst_floor_1m": 10} (JSON in the environment).
    detection: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_s: float = 200.0  # per principal; 0 switches the limit off
    rate_limit_burst: float = 1000.0
    # Requests without a valid token, per client address (token bucket; 0 switches it off).
    unauthenticated_rate_limit_per_s: float = 5.0
    unauthenticated_rate_limit_burst: float = 50.0
    # UNSAFE, development only: serve on a non-loopback address with the development issuer
    # (anyone who reaches the port can get a token). Off: `serve` refuses to start there
    # without FHIR_EVIDENCE_TRUSTED_ISSUERS.
    dev_mode: bool = False
    # GET /metrics and /openapi.json are answered only when switched on (off by default).
    expose_metrics: bool = False
    expose_openapi: bool = False
    # Outbox rows every consumer has confirmed are deleted once older than this (their raw
    # patient ids go with them); 0 deletes them as soon as they are confirmed.
    outbox_retention_s: float = Field(default=3600.0, ge=0)
    # Proxies (CIDRs) whose X-Forwarded-For is believed for the client address (recorded,
    # pseudonymised, in evidence; keys the unauthenticated limit): comma list or JSON list.
    # None by default: the client address is the TCP peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    token_endpoint: str | None = None  # advertised in discovery when set
    authorization_endpoint: str | None = None

    @field_validator("trusted_issuers")
    @classmethod
    def _one_introspecting_issuer(cls, value: list[TrustedIssuer]) -> list[TrustedIssuer]:
        if sum(1 for i in value if i.introspection != "off") > 1:
            raise ValueError("at most one trusted issuer may use introspection")
        return value

    @field_validator("trusted_issuers", mode="before")
    @classmethod
    def _parse_issuers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            value = [str(v).strip() for v in value if str(v).strip()]
            for cidr in value:
                ipaddress.ip_network(cidr, strict=False)  # ValueError: not a network
        return value

    @field_validator("fhir_store_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("FHIR_EVIDENCE_FHIR_STORE_URL must be a postgresql:// URL")
        return value or None

    @field_validator("upstream_fhir_url")
    @classmethod
    def _http_upstream(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("FHIR_EVIDENCE_UPSTREAM_FHIR_URL must be an http(s):// URL")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _one_fhir_data_source(self) -> "Settings":
        if self.upstream_fhir_url and self.fhir_store_url:
            raise ValueError(
                "FHIR_EVIDENCE_UPSTREAM_FHIR_URL (gateway mode) and FHIR_EVIDENCE_FHIR_STORE_URL "
                "(PostgreSQL) are mutually exclusive: set one"
            )
        problem = _upstream_auth_problem(self)
        if self.upstream_fhir_url and problem:
            raise ValueError(problem)
        return self

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def fhir_base(self) -> str:
        return f"{self.base_url}/fhir"

    @property
    def dev_issuer_enabled(self) -> bool:
        return not self.trusted_issuers

    @property
    def dev_issuer_url(self) -> str:
        return f"{self.base_url}/dev-issuer"


def _upstream_auth_problem(settings: Settings) -> str:
    """What the upstream credentials lack ("" when complete)."""
    mode = settings.upstream_auth
    if mode == "none":
        return ""
    if mode == "bearer":
        return "" if settings.upstream_bearer_token else "upstream_auth=bearer needs a token"
    if mode != "client_credentials":
        return "FHIR_EVIDENCE_UPSTREAM_AUTH must be none, bearer or client_credentials"
    if not (settings.upstream_token_url and settings.upstream_client_id):
        return "client_credentials needs FHIR_EVIDENCE_UPSTREAM_TOKEN_URL and _CLIENT_ID"
    if bool(settings.upstream_client_secret) == bool(settings.upstream_private_key_file):
        return "client_credentials needs one of _UPSTREAM_CLIENT_SECRET or _PRIVATE_KEY_FILE"
    return ""
