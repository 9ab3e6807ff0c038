"""What a process may start with (pure): the checks `serve` and `worker` make before opening
anything, each refusal a message for the operator.

- The development issuer (anyone who reaches it gets a token, the console's demo login)
  works only while `serve` listens on a loopback address. On any other address `serve`
  needs FHIR_EVIDENCE_TRUSTED_ISSUERS, unless FHIR_EVIDENCE_DEV_MODE=true says, unsafely,
  that a reachable development issuer is wanted.
- FHIR_EVIDENCE_HASH_KEY may not be the compose file's placeholder (`change-me…`): every
  pseudonym would be computable by anyone who read that file.
"""

import ipaddress

from api.settings import Settings

PLACEHOLDER_PREFIX = "change-me"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) or the name localhost; a wildcard (0.0.0.0, ::),
    any other address and any other name (never resolved here) are not."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def dev_issuer_refusal(host: str, settings: Settings) -> str | None:
    """Why `serve` on `host` must not start with these settings, or None."""
    if settings.trusted_issuers or settings.dev_mode or is_loopback(host):
        return None
    return (
        f"refusing to serve on {host}: no trusted issuer is configured, and the development "
        "issuer (which gives anyone who can reach it a token) works only on a loopback "
        "address. Set FHIR_EVIDENCE_TRUSTED_ISSUERS to your identity provider "
        '(e.g. [{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks"}]), '
        "serve on 127.0.0.1, or set FHIR_EVIDENCE_DEV_MODE=true (unsafe: development only)."
    )


def hash_key_refusal(settings: Settings) -> str | None:
    """Why the configured pseudonymisation key must not be used, or None."""
    key = settings.hash_key or ""
    if not key.strip().lower().startswith(PLACEHOLDER_PREFIX):
        return None
    return (
        "refusing to start: FHIR_EVIDENCE_HASH_KEY is the placeholder from the compose file; "
        "set it to a secret of your own, the same for every replica and worker "
        "(e.g. `openssl rand -hex 32`)."
    )


def startup_refusals(settings: Settings, host: str | None = None) -> list[str]:
    """Every reason not to start: `host` is where `serve` listens (None for `worker`)."""
    reasons = [hash_key_refusal(settings)]
    if host is not None:
        reasons.append(dev_issuer_refusal(host, settings))
    return [reason for reason in reasons if reason is not None]
