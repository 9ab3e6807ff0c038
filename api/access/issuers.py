"""Trusted issuers, their metadata and their keys: JWKS from a file, a URI or discovery.

- Discovery (an issuer given by its URL alone): the metadata is read at start-up (failure:
  DiscoveryFailed, a configuration error) and re-read every `discovery_refresh_s`.
- Keys are re-read every `jwks_refresh_s`, so a key removed from the JWKS stops verifying
  within that bound, and on an unknown `kid` at most once a minute per issuer (made-up key
  ids cannot amplify into fetches). `generation(issuer)` changes whenever the key set does:
  the guard re-verifies cached tokens then.
- When re-reading fails the last good metadata and keys serve at most `issuer_max_stale_s`;
  after that the issuer has no keys, and its tokens are refused with 503.
Re-reading happens in `maintain(now)`, which the guard calls per request (cheap when nothing
is due: a few comparisons per issuer).
"""

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from jwt import PyJWK, PyJWTError

from api.access.discovery import DiscoveryFailed, discover
from api.access.idp_http import IdpUnreachable, get
from api.security.idp_metadata import (
    MAX_DOCUMENT_BYTES,
    Freshness,
    IssuerMetadata,
    refresh_due,
    still_usable,
)
from api.security.tokens import TrustedKeys
from api.settings import Settings, TrustedIssuer

log = structlog.get_logger("fhir_evidence.issuers")
REFRESH_INTERVAL_S = 60.0
NO_KEYS_RETRY_S = 5.0
_ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})
_NEVER = -math.inf
DEFAULT_JWKS = Freshness(300.0, 86400.0)
DEFAULT_DISCOVERY = Freshness(3600.0, 86400.0)


def keys_from_jwks(document: Mapping[str, Any]) -> dict[str, Any]:
    """kid -> public key object; keys without a usable kid or type are skipped."""
    keys: dict[str, Any] = {}
    for raw in document.get("keys", []):
        if not isinstance(raw, dict):
            continue
        if raw.get("use", "sig") != "sig" or "d" in raw or raw.get("kty") not in _ASYMMETRIC:
            continue  # never private material, never a symmetric (HMAC) key
        try:
            jwk = PyJWK(raw)
        except (PyJWTError, ValueError, TypeError):
            continue
        keys[str(raw.get("kid", ""))] = jwk.key
    return keys


@dataclass(frozen=True, slots=True)
class IssuerBounds:
    jwks: Freshness = DEFAULT_JWKS
    discovery: Freshness = DEFAULT_DISCOVERY

    @classmethod
    def of(cls, settings: Settings) -> "IssuerBounds":
        stale = settings.issuer_max_stale_s
        return cls(
            Freshness(settings.jwks_refresh_s, stale),
            Freshness(settings.discovery_refresh_s, stale),
        )


@dataclass(slots=True)
class _State:
    config: TrustedIssuer
    metadata: IssuerMetadata | None = None
    metadata_good: float = _NEVER
    metadata_attempt: float = _NEVER
    keys_good: float = _NEVER
    keys_attempt: float = _NEVER
    fingerprint: str = ""
    generation: int = 0


class IssuerKeys:
    """The current keys of every trusted issuer, refreshable without a restart."""

    def __init__(
        self,
        issuers: list[TrustedIssuer],
        default_audience: str,
        bounds: IssuerBounds | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._default_audience = default_audience
        self._bounds = bounds or IssuerBounds()
        self._clock = clock
        self._states = {i.issuer: _State(i) for i in issuers}
        self._trusted: dict[str, TrustedKeys] = {}
        self._last_refresh: dict[str, float] = {}
        self._lock = threading.Lock()
        now = clock()
        for state in self._states.values():
            if state.config.uses_discovery:
                self._apply_discovery(state, discover(state.config.issuer), now)
            self._load(state, now)

    @property
    def trusted(self) -> Mapping[str, TrustedKeys]:
        return self._trusted

    def metadata(self, issuer: str) -> IssuerMetadata | None:
        state = self._states.get(issuer)
        return state.metadata if state is not None else None

    def config(self, issuer: str) -> TrustedIssuer | None:
        state = self._states.get(issuer)
        return state.config if state is not None else None

    def generation(self, issuer: str) -> int:
        state = self._states.get(issuer)
        return state.generation if state is not None else 0

    def add_static(self, issuer: str, audience: str, keys: dict[str, Any]) -> None:
        algorithms = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
        self._trusted[issuer] = TrustedKeys(issuer, audience, algorithms, keys)

    def refresh(self, issuer: str, min_interval_s: float = REFRESH_INTERVAL_S) -> bool:
        """Reload one issuer's keys, at most once per interval; True when reloaded."""
        state = self._states.get(issuer)
        now = self._clock()
        with self._lock:
            if state is None or now - self._last_refresh.get(issuer, _NEVER) < min_interval_s:
                return False
            self._last_refresh[issuer] = now
        return self._load(state, now)

    def refresh_all(self) -> bool:
        """With no key at all, retry every issuer (each at most every few seconds, so an
        outage at start-up heals by itself); True if any key is loaded now."""
        for issuer in list(self._states):
            self.refresh(issuer, NO_KEYS_RETRY_S)
        return self.any_keys()

    def maintain(self) -> None:
        """Re-read what is due; drop the keys of an issuer whose last good copy is too old."""
        now = self._clock()
        for state in self._states.values():
            if state.config.uses_discovery and refresh_due(
                self._bounds.discovery, state.metadata_good, state.metadata_attempt, now
            ):
                self._rediscover(state, now)
            if refresh_due(self._bounds.jwks, state.keys_good, state.keys_attempt, now):
                self._load(state, now)
            if not self._usable(state, now) and self._trusted[state.config.issuer].keys:
                log.error("issuer metadata too old: its tokens are refused",
                          issuer=state.config.issuer)  # fmt: skip
                self._set_keys(state, {}, "")

    def unavailable(self, issuer: str) -> bool:
        """A configured issuer without keys (never loaded, or too old): 503, not 401."""
        trusted = self._trusted.get(issuer)
        return issuer in self._states and (trusted is None or not trusted.keys)

    def _usable(self, state: _State, now: float) -> bool:
        if state.config.uses_discovery and not still_usable(
            self._bounds.discovery, state.metadata_good, now
        ):
            return False
        return still_usable(self._bounds.jwks, state.keys_good, now)

    def _rediscover(self, state: _State, now: float) -> None:
        state.metadata_attempt = now
        try:
            metadata = discover(state.config.issuer)
        except DiscoveryFailed as exc:
            log.warning("discovery failed; the last good metadata stays", error=str(exc))
            return
        moved = state.metadata is None or metadata.jwks_uri != state.metadata.jwks_uri
        self._apply_discovery(state, metadata, now)
        if moved:
            self._load(state, now)

    @staticmethod
    def _apply_discovery(state: _State, metadata: IssuerMetadata, now: float) -> None:
        state.metadata, state.metadata_good, state.metadata_attempt = metadata, now, now

    def _load(self, state: _State, now: float) -> bool:
        state.keys_attempt = now
        config = state.config
        try:
            document = _read_jwks(config, state.metadata)
        except (OSError, ValueError, IdpUnreachable) as exc:
            log.warning("jwks unavailable", issuer=config.issuer, error=type(exc).__name__)
            if config.issuer not in self._trusted:  # known issuer, no keys yet: refreshable
                self._set_keys(state, {}, "")
            return False
        fingerprint = json.dumps(document.get("keys"), sort_keys=True, default=str)
        state.keys_good = now
        if fingerprint != state.fingerprint or config.issuer not in self._trusted:
            self._set_keys(state, keys_from_jwks(document), fingerprint)
        return True

    def _set_keys(self, state: _State, keys: dict[str, Any], fingerprint: str) -> None:
        config = state.config
        audience = config.audience or self._default_audience
        self._trusted[config.issuer] = TrustedKeys(
            config.issuer, audience, frozenset(config.algorithms), keys
        )
        state.fingerprint = fingerprint
        state.generation += 1

    def any_keys(self) -> bool:
        return any(t.keys for t in self._trusted.values())


def _read_jwks(config: TrustedIssuer, metadata: IssuerMetadata | None) -> dict[str, Any]:
    if config.jwks_file is not None:
        return dict(json.loads(Path(config.jwks_file).read_text()))
    uri = config.jwks_uri or (metadata.jwks_uri if metadata is not None else None)
    if uri is None:
        raise ValueError(f"no JWKS source for the issuer {config.issuer}")
    answer = get(uri, MAX_DOCUMENT_BYTES)
    if answer.status != 200:
        raise ValueError(f"JWKS answered HTTP {answer.status}")
    document = json.loads(answer.body)
    if not isinstance(document, dict) or not isinstance(document.get("keys", []), list):
        raise ValueError("the JWKS is not a key set")
    return document


def issuer_keys_for(settings: Settings) -> IssuerKeys:
    """Raises DiscoveryFailed when an issuer given by its URL alone cannot be discovered."""
    return IssuerKeys(settings.trusted_issuers, settings.fhir_base, IssuerBounds.of(settings))


__all__ = ["IssuerBounds", "IssuerKeys", "issuer_keys_for", "keys_from_jwks"]
