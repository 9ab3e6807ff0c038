"""Trusted issuers and their keys: JWKS from a file or a URI, and the development issuer.

JWKS over HTTP is fetched with short timeouts and refreshed on an unknown `kid` at most
once a minute per issuer, so an attacker's made-up key ids cannot amplify into fetches.
"""

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import structlog
from jwt import PyJWK, PyJWTError

from api.security.tokens import TrustedKeys
from api.settings import Settings, TrustedIssuer

log = structlog.get_logger("fhir_evidence.issuers")
REFRESH_INTERVAL_S = 60.0
NO_KEYS_RETRY_S = 5.0
_ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})
FETCH_TIMEOUT_S = 3.0


def keys_from_jwks(document: Mapping[str, Any]) -> dict[str, Any]:
    """kid -> public key object; keys without a usable kid or type are skipped."""
    keys: dict[str, Any] = {}
    for raw in document.get("keys", []):
        if raw.get("use", "sig") != "sig" or "d" in raw or raw.get("kty") not in _ASYMMETRIC:
            continue  # never private material, never a symmetric (HMAC) key
        try:
            jwk = PyJWK(raw)
        except (PyJWTError, ValueError, TypeError):
            continue
        keys[str(raw.get("kid", ""))] = jwk.key
    return keys


class IssuerKeys:
    """The current keys of every trusted issuer, refreshable without a restart."""

    def __init__(self, issuers: list[TrustedIssuer], default_audience: str) -> None:
        self._config = {i.issuer: i for i in issuers}
        self._default_audience = default_audience
        self._trusted: dict[str, TrustedKeys] = {}
        self._last_refresh: dict[str, float] = {}
        self._lock = threading.Lock()
        for issuer in issuers:
            self._load(issuer)

    @property
    def trusted(self) -> Mapping[str, TrustedKeys]:
        return self._trusted

    def add_static(self, issuer: str, audience: str, keys: dict[str, Any]) -> None:
        algorithms = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
        self._trusted[issuer] = TrustedKeys(issuer, audience, algorithms, keys)

    def refresh(self, issuer: str, min_interval_s: float = REFRESH_INTERVAL_S) -> bool:
        """Reload one issuer's keys, at most once per interval; True when reloaded."""
        config = self._config.get(issuer)
        now = time.monotonic()
        with self._lock:
            if config is None or now - self._last_refresh.get(issuer, -1e9) < min_interval_s:
                return False
            self._last_refresh[issuer] = now
        return self._load(config)

    def refresh_all(self) -> bool:
        """With no key at all, retry every issuer (each at most every few seconds, so an
        outage at start-up heals by itself); True if any key is loaded now."""
        for issuer in list(self._config):
            self.refresh(issuer, NO_KEYS_RETRY_S)
        return self.any_keys()

    def _load(self, config: TrustedIssuer) -> bool:
        try:
            document = _read_jwks(config)
        except (OSError, ValueError, httpx.HTTPError) as exc:
            log.warning("jwks unavailable", issuer=config.issuer, error=type(exc).__name__)
            if config.issuer not in self._trusted:  # known issuer, no keys yet: refreshable
                self._trusted[config.issuer] = TrustedKeys(
                    config.issuer,
                    config.audience or self._default_audience,
                    frozenset(config.algorithms),
                    {},
                )
            return False
        audience = config.audience or self._default_audience
        self._trusted[config.issuer] = TrustedKeys(
            config.issuer, audience, frozenset(config.algorithms), keys_from_jwks(document)
        )
        return True

    def any_keys(self) -> bool:
        return any(t.keys for t in self._trusted.values())


def _read_jwks(config: TrustedIssuer) -> dict[str, Any]:
    if config.jwks_file is not None:
        return dict(json.loads(Path(config.jwks_file).read_text()))
    if config.jwks_uri is None:  # TrustedIssuer validates that exactly one source is set
        raise ValueError(f"no JWKS source for the issuer {config.issuer}")
    response = httpx.get(config.jwks_uri, timeout=FETCH_TIMEOUT_S, follow_redirects=False)
    response.raise_for_status()
    return dict(response.json())


def issuer_keys_for(settings: Settings) -> IssuerKeys:
    return IssuerKeys(settings.trusted_issuers, settings.fhir_base)


__all__ = ["IssuerKeys", "issuer_keys_for", "keys_from_jwks"]
